/*
 * cmd_report.c - `modelstore report`: per model name and version, the
 * stored metrics next to what the logged predictions say, plus recent
 * promotions.  The figures come from ms_store_report() (the views of
 * sql/002_monitoring_views.sql) as one JSON document; this file renders
 * it.
 *
 * Output: a text table on stdout; with --json one JSON document; with
 * --html FILE a self-contained static page (inline CSS, no script, no
 * external asset) written atomically by ms_file_write_atomic().
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "report_charts.h"

/* The library's document plus what the command adds around it. */
typedef struct report {
	json_t *doc;        /* owned: {"versions": [...], "promotions": [...]} */
	json_t *versions;   /* borrowed from doc */
	json_t *promotions; /* borrowed from doc */
	json_t *series;     /* owned: ms_store_report_series' document */
	json_t *daily;      /* borrowed from series */
	json_t *events;     /* borrowed from series */
	const char *name;   /* --name, or NULL for every name */
	long since;         /* days; -1: all time */
	const char *target; /* "host:port/db", borrowed from the store */
	char generated[32]; /* UTC, ISO 8601 */
} report;

/* ------------------------------------------------------------------ */
/* formatting helpers                                                  */
/* ------------------------------------------------------------------ */

/* A string member of @row; NULL when null or absent. */
static const char *str_of(const json_t *row, const char *key)
{
	return json_string_value(json_object_get(row, key));
}

/* Model name of version @i, "" when missing. */
static const char *name_at(const json_t *versions, size_t i)
{
	const char *n = str_of(json_array_get(versions, i), "model_name");
	return n ? n : "";
}

/* "2024-03-01T10:00:00Z" (UTC, with its zone) as it is; NULL -> "-" */
static void fmt_time(char *buf, size_t n, const char *v)
{
	snprintf(buf, n, "%s", v ? v : "-");
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

/* Cell formatters: one JSON value (not null) to display text; @dec:
 * the decimals of the cell's column (numbers only). */
typedef void (*cell_fmt)(char *buf, size_t n, const json_t *v, int dec);

static void cell_text(char *buf, size_t n, const json_t *v, int dec)
{
	(void)dec;
	fmt_plain(buf, n, json_string_value(v));
}

static void cell_yes(char *buf, size_t n, const json_t *v, int dec)
{
	(void)dec;
	snprintf(buf, n, "%s", json_is_true(v) ? "yes" : "");
}

static void cell_size(char *buf, size_t n, const json_t *v, int dec)
{
	long long b = json_integer_value(v);
	(void)dec;
	if (b < 0)
		snprintf(buf, n, "-");
	else
		cli_fmt_size(buf, n, b);
}

static void cell_count(char *buf, size_t n, const json_t *v, int dec)
{
	(void)dec;
	snprintf(buf, n, "%lld", (long long)json_integer_value(v));
}

/* Fixed-point with the column's decimals: never "2.1e+04", and the
 * same precision down a column. */
static void cell_num(char *buf, size_t n, const json_t *v, int dec)
{
	double d = json_number_value(v);
	snprintf(buf, n, "%.*f", dec, d);
	if (strspn(buf, "-0.") == strlen(buf) && buf[0] == '-')
		memmove(buf, buf + 1, strlen(buf)); /* no "-0.000" */
}

static void cell_time(char *buf, size_t n, const json_t *v, int dec)
{
	(void)dec;
	fmt_time(buf, n, json_string_value(v));
}

/* The columns of a version row, shared by text and HTML.  Numeric
 * columns are right-aligned. */
#define NCELLS 13
enum { C_PROD = 1, C_TYPE = 2 };
static const struct {
	const char *head;
	const char *key;
	cell_fmt fmt;
	bool numeric;
} VCOL[NCELLS] = {
	{ "VERSION", "model_version", cell_text, false },
	{ "PROD", "is_production", cell_yes, false },
	{ "TYPE", "model_type", cell_text, false },
	{ "SIZE", "model_size_bytes", cell_size, true },
	{ "ACCURACY", "accuracy_score", cell_num, true },
	{ "RMSE", "rmse_score", cell_num, true },
	{ "R2", "r2_score", cell_num, true },
	{ "PREDICTIONS", "prediction_count", cell_count, true },
	{ "ACTUALS", "predictions_with_actual", cell_count, true },
	{ "MAE", "mean_absolute_error", cell_num, true },
	{ "OBS RMSE", "rmse", cell_num, true },
	{ "AVG PRED", "avg_prediction", cell_num, true },
	{ "LAST PREDICTION", "last_prediction_at", cell_time, false },
};

typedef struct vrow {
	char cell[NCELLS][160];
} vrow;

/* The decimals of each column over the versions [start, end): four
 * significant digits of the column's largest magnitude, 0 to 6. */
static void column_decimals(int dec[NCELLS], const json_t *versions,
                            size_t start, size_t end)
{
	for (int j = 0; j < NCELLS; j++) {
		double m = 0;
		for (size_t i = start; VCOL[j].fmt == cell_num && i < end; i++) {
			const json_t *v = json_object_get(json_array_get(versions, i),
			                                  VCOL[j].key);
			double d = json_number_value(v);
			if (json_is_number(v) && (d < 0 ? -d : d) > m)
				m = d < 0 ? -d : d;
		}
		dec[j] = 2;
		if (m > 0) { /* 3 - floor(log10(m)), without libm */
			dec[j] = 3;
			for (; m >= 10; m /= 10)
				dec[j]--;
			for (; m < 1; m *= 10)
				dec[j]++;
		}
		if (dec[j] < 0)
			dec[j] = 0;
		if (dec[j] > 6)
			dec[j] = 6;
	}
}

/* An absent figure (null) shows as "-"; PROD stays blank. */
static void version_cells(vrow *out, const json_t *row, const int dec[NCELLS])
{
	for (int j = 0; j < NCELLS; j++) {
		const json_t *v = json_object_get(row, VCOL[j].key);
		if ((v == NULL || json_is_null(v)) && j != C_PROD)
			snprintf(out->cell[j], sizeof out->cell[j], "-");
		else
			VCOL[j].fmt(out->cell[j], sizeof out->cell[j], v, dec[j]);
	}
}

/* End of the run of versions sharing the model name of version @start. */
static size_t name_group_end(const json_t *versions, size_t start)
{
	size_t i = start, n = json_array_size(versions);
	const char *name = name_at(versions, start);
	while (i < n && strcmp(name_at(versions, i), name) == 0)
		i++;
	return i;
}

/* The promotion columns, in the document's order. */
#define NPCOLS 8
static const char *const PKEY[NPCOLS] = {
	"promoted_at", "model_name", "action", "from_version", "to_version",
	"to_model_type", "reason", "promoted_by"
};
enum { P_AT, P_NAME, P_ACTION, P_FROM, P_TO, P_TYPE, P_REASON, P_BY };

/* ------------------------------------------------------------------ */
/* text                                                                */
/* ------------------------------------------------------------------ */

static void print_text_row(const char *const cells[NCELLS], const int w[NCELLS])
{
	for (int j = 0; j < NCELLS; j++)
		printf(j ? "  %*s" : "%*s", VCOL[j].numeric ? w[j] : -w[j],
		       cells[j]);
	putchar('\n');
}

/* One table: the versions [start, end) of one model name. */
static void print_text_table(const json_t *versions, size_t start, size_t end)
{
	vrow *rows = calloc(end - start, sizeof *rows);
	const char *cells[NCELLS];
	int w[NCELLS], dec[NCELLS];
	if (rows == NULL)
		return;
	column_decimals(dec, versions, start, end);
	for (int j = 0; j < NCELLS; j++)
		w[j] = (int)strlen(VCOL[j].head);
	for (size_t k = 0; k < end - start; k++) {
		version_cells(&rows[k], json_array_get(versions, start + k), dec);
		for (int j = 0; j < NCELLS; j++) {
			int l = (int)strlen(rows[k].cell[j]);
			if (l > w[j])
				w[j] = l;
		}
	}
	printf("\n%s\n", name_at(versions, start));
	w[NCELLS - 1] = 0; /* last column: no trailing blanks */
	for (int j = 0; j < NCELLS; j++)
		cells[j] = VCOL[j].head;
	print_text_row(cells, w);
	for (size_t k = 0; k < end - start; k++) {
		for (int j = 0; j < NCELLS; j++)
			cells[j] = rows[k].cell[j];
		print_text_row(cells, w);
	}
	free(rows);
}

static void print_text_promotions(const json_t *promotions)
{
	size_t k;
	const json_t *p;
	if (json_array_size(promotions) > 0)
		printf("\nrecent promotions\n");
	json_array_foreach(promotions, k, p) {
		char at[32], nm[160], from[64], to[64], why[256];
		const char *reason = str_of(p, PKEY[P_REASON]);
		fmt_time(at, sizeof at, str_of(p, PKEY[P_AT]));
		fmt_plain(nm, sizeof nm, str_of(p, PKEY[P_NAME]));
		fmt_plain(from, sizeof from, str_of(p, PKEY[P_FROM]));
		fmt_plain(to, sizeof to, str_of(p, PKEY[P_TO]));
		fmt_plain(why, sizeof why, reason);
		printf("%s  %-8s %s: %s -> %s%s%s\n", at, str_of(p, PKEY[P_ACTION]),
		       nm, from, to, reason ? "  " : "", reason ? why : "");
	}
}

static void print_text(const report *r)
{
	size_t n = json_array_size(r->versions), i = 0;
	printf("modelstore report: %s, %s%s, generated %s, predictions %s",
	       r->target, r->name ? "model " : "every model name",
	       r->name ? r->name : "", r->generated,
	       r->since < 0 ? "all time" : "over the last ");
	if (r->since >= 0)
		printf("%ld day%s", r->since, r->since == 1 ? "" : "s");
	putchar('\n');
	if (n == 0)
		puts("\nno model versions stored");
	while (i < n) {
		size_t end = name_group_end(r->versions, i);
		print_text_table(r->versions, i, end);
		i = end;
	}
	print_text_promotions(r->promotions);
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
	"footer{margin-top:2em;color:#8a93a3;font-size:.85em}"
	"h3{font-size:1em;margin:1.4em 0 .4em;color:#3c4657}"
	"figure.chart{margin:0 0 1em}"
	"svg.chart{display:block;width:100%;height:auto;max-width:1400px}"
	"figcaption{color:#5b6576;font-size:.85em;margin-top:.2em}"
	"@media print{body{margin:0;max-width:none;font-size:11px}"
	".scroll{overflow:visible}section.model{break-before:page}"
	"section.model:first-of-type{break-before:auto}"
	"figure.chart{break-inside:avoid}th{background:none}"
	"tr.prod td{background:none;font-weight:600}}";

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

static void html_head(FILE *f, const report *r)
{
	fputs("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n"
	      "<meta charset=\"utf-8\">\n"
	      "<meta name=\"viewport\" content=\"width=device-width, "
	      "initial-scale=1\">\n<title>modelstore report</title>\n<style>", f);
	fputs(CSS, f);
	fputs("</style>\n</head>\n<body>\n<h1>modelstore report</h1>\n"
	      "<p class=\"meta\">Database ", f);
	html_esc(f, r->target);
	fputs(" &middot; generated ", f);
	html_esc(f, r->generated);
	fputs(" &middot; model ", f);
	html_esc(f, r->name ? r->name : "every name");
	fputs(" &middot; prediction figures ", f);
	if (r->since < 0)
		fputs("over all time", f);
	else
		fprintf(f, "over the last %ld day%s", r->since,
		        r->since == 1 ? "" : "s");
	fputs("</p>\n", f);
}

static void html_version_row(FILE *f, const json_t *row, const int dec[NCELLS])
{
	vrow cells;
	int prod = json_is_true(json_object_get(row, "is_production"));
	version_cells(&cells, row, dec);
	fputs(prod ? "<tr class=\"prod\">" : "<tr>", f);
	for (int j = 0; j < NCELLS; j++) {
		if (j == C_PROD)
			fputs(prod ? "<td><span class=\"badge\">production"
			             "</span></td>" : "<td></td>", f);
		else if (j == C_TYPE) /* HTML escapes itself: the raw type, not
		                         the terminal-sanitised copy */
			html_td_class(f, str_of(row, VCOL[j].key), "wrap");
		else
			html_td(f, cells.cell[j], VCOL[j].numeric);
	}
	fputs("</tr>\n", f);
}

/* The charts of one model name, the versions [start, end). */
static void html_charts(FILE *f, const report *r, size_t start, size_t end)
{
	const char *name = name_at(r->versions, start), *prod = NULL;
	chart_versions cv;
	for (size_t i = start; i < end; i++)
		if (json_is_true(json_object_get(json_array_get(r->versions, i),
		                                 "is_production")))
			prod = str_of(json_array_get(r->versions, i), "model_version");
	chart_versions_init(&cv, r->versions, start, end, r->daily, name);
	fputs("<h3>Predictions</h3>\n", f);
	if (chart_volume(f, r->daily, r->events, name, &cv) == 0) {
		fputs("<p class=\"muted\">No predictions logged", f);
		if (r->since >= 0)
			fprintf(f, " in the last %ld day%s", r->since,
			        r->since == 1 ? "" : "s");
		fputs(".</p>\n", f);
	} else {
		fputs("<h3>Observed error</h3>\n", f);
		chart_error(f, r->daily, r->events, name, &cv);
		fputs("<h3>Volume and error, production version</h3>\n", f);
		chart_volume_error(f, r->daily, name, prod, &cv);
	}
	fputs("<h3>Model size</h3>\n", f);
	chart_sizes(f, r->versions, start, end, name, &cv);
}

/* One table: the versions [start, end) of one model name. */
static void html_versions_table(FILE *f, const json_t *versions, size_t start,
                                size_t end)
{
	int dec[NCELLS];
	column_decimals(dec, versions, start, end);
	fputs("<h3>Versions</h3>\n<div class=\"scroll\"><table>\n<thead><tr>", f);
	for (int j = 0; j < NCELLS; j++) {
		fputs(VCOL[j].numeric ? "<th class=\"n\">" : "<th>", f);
		html_esc(f, VCOL[j].head);
		fputs("</th>", f);
	}
	fputs("</tr></thead>\n<tbody>\n", f);
	for (size_t i = start; i < end; i++)
		html_version_row(f, json_array_get(versions, i), dec);
	fputs("</tbody>\n</table></div>\n", f);
}

static void html_promotion_row(FILE *f, const json_t *p)
{
	char at[32];
	fmt_time(at, sizeof at, str_of(p, PKEY[P_AT]));
	fputs("<tr>", f);
	html_td(f, at, 0);
	for (int j = P_NAME; j < NPCOLS; j++) {
		const char *v = str_of(p, PKEY[j]);
		if (j == P_REASON) {
			fputs("<td class=\"wrap\">", f);
			html_esc(f, v ? v : "");
			fputs("</td>", f);
		} else {
			html_td(f, v, 0);
		}
	}
	fputs("</tr>\n", f);
}

static void html_promotions(FILE *f, const report *r)
{
	static const char *const ph[NPCOLS] = { "When", "Model", "Action",
		"From", "To", "Type", "Reason", "By" };
	size_t k;
	const json_t *p;
	fputs("<h2>Recent promotions</h2>\n", f);
	if (json_array_size(r->promotions) == 0) {
		fputs("<p class=\"muted\">None", f);
		if (r->since >= 0)
			fprintf(f, " in the last %ld day%s", r->since,
			        r->since == 1 ? "" : "s");
		fputs(".</p>\n", f);
		return;
	}
	fputs("<table>\n<thead><tr>", f);
	for (int j = 0; j < NPCOLS; j++) {
		fputs("<th>", f);
		html_esc(f, ph[j]);
		fputs("</th>", f);
	}
	fputs("</tr></thead>\n<tbody>\n", f);
	json_array_foreach(r->promotions, k, p)
		html_promotion_row(f, p);
	fputs("</tbody>\n</table>\n", f);
}

static void write_html(FILE *f, const report *r)
{
	size_t n = json_array_size(r->versions), i = 0;
	html_head(f, r);
	if (n == 0)
		fputs("<p>No model versions stored.</p>\n", f);
	while (i < n) {
		size_t end = name_group_end(r->versions, i);
		fputs("<section class=\"model\"><h2>", f);
		html_esc(f, name_at(r->versions, i));
		fputs("</h2>\n", f);
		html_charts(f, r, i, end);
		html_versions_table(f, r->versions, i, end);
		fputs("</section>\n", f);
		i = end;
	}
	html_promotions(f, r);
	fputs("<footer>MAE and OBS RMSE compare predictions with the actual "
	      "values recorded so far (ACTUALS of PREDICTIONS); ACCURACY, RMSE "
	      "and R2 are the figures stored at push time. Generated by "
	      "modelstore ", f);
	html_esc(f, ms_version());
	fputs(".</footer>\n</body>\n</html>\n", f);
}

/* Build the page in memory, then write it atomically (temp file, fsync,
 * rename).  Returns 0 or the exit code of the printed error. */
static int save_html(const cli *c, const report *r, const char *path)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *mem = open_memstream(&buf, &len);
	ms_buf msg = MS_BUF_INIT;
	ms_status st;

	if (mem == NULL)
		return cli_fail(c, MS_ENOMEM, "out of memory");
	write_html(mem, r);
	if (fclose(mem) != 0) {
		free(buf);
		return cli_fail(c, MS_ENOMEM, "out of memory");
	}
	st = ms_file_write_atomic(&msg, path, buf, len, 1);
	free(buf);
	if (st == MS_OK)
		return 0;
	return cli_fail_buf(c, st == MS_ENOMEM ? MS_ENOMEM : MS_EIO, &msg);
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
	"model_prediction_volume_daily, model_promotion_history).  Covers\n"
	"every model name, or the global --name's.  Times are UTC (...Z).\n"
	"\n"
	"  --since DAYS   prediction figures and promotions of the last DAYS\n"
	"                 days only (default: all time)\n"
	"  --html FILE    also write a self-contained HTML page to FILE\n"
	"                 (atomically: temp file, fsync, rename) with inline\n"
	"                 SVG charts per model name: predictions per day and\n"
	"                 version, observed MAE and RMSE over time with the\n"
	"                 promotions and rollbacks, volume against error of the\n"
	"                 production version, model size per version\n"
	"\n"
	"Text on stdout; with the global --json one JSON document\n"
	"{\"generated_at\", \"database\", \"since_days\", \"versions\": [...],\n"
	"\"promotions\": [...]} keyed by the views' column names.\n"
	"Exit codes: 0 ok, 2 usage, 4 database unreachable, 1 anything else.\n";

typedef struct report_args {
	const char *html; /* --html FILE or NULL */
	long since;       /* --since DAYS; -1: all time */
} report_args;

/* 0 to go on, CLI_HELP_SHOWN, or the exit code of a usage error. */
static int parse_report_args(cli *c, report_args *a, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "html", required_argument, NULL, 'H' },
		{ "since", required_argument, NULL, 's' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	int opt;
	char *end;

	a->html = NULL;
	a->since = -1;
	optind = 0;
	while ((opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (opt) {
		case 'H':
			if (optarg[0] == '\0')
				return cli_usage(c, "invalid --html value: \"\"");
			a->html = optarg;
			break;
		case 's':
			errno = 0;
			a->since = strtol(optarg, &end, 10);
			if (optarg[0] < '0' || optarg[0] > '9' || *end != '\0' ||
			    errno != 0 || a->since > 36500)
				return cli_usage(c, "invalid --since value: \"%s\" "
				                 "(days, 0 to 36500)", optarg);
			break;
		case 'h':
			fputs(REPORT_HELP, stdout);
			return CLI_HELP_SHOWN;
		default:
			return cli_usage(c, "unknown option");
		}
	}
	if (optind < argc)
		return cli_usage(c, "unexpected argument \"%s\"", argv[optind]);
	return 0;
}

/* Every model name's figures from the library into @r. */
static int fetch_report(const cli *c, ms_store *s, long since, report *r,
                        bool series)
{
	char days[32];
	ms_buf out = MS_BUF_INIT;
	ms_status st;
	time_t now;
	struct tm tm;

	snprintf(days, sizeof days, "%ld", since);
	r->name = c->name_given ? c->name : NULL;
	st = ms_store_report(&out, s, r->name, since >= 0 ? days : NULL);
	if (st != MS_OK) /* a usage-class status from the server is not the
	                    user's fault */
		return cli_fail(c, st == MS_EINVAL ? MS_ERROR : st, "%s",
		                ms_store_errmsg(s));
	r->doc = json_loads(out.ptr, 0, NULL);
	ms_buf_dispose(&out);
	r->versions = json_object_get(r->doc, "versions");
	r->promotions = json_object_get(r->doc, "promotions");
	if (!json_is_array(r->versions) || !json_is_array(r->promotions))
		return cli_fail(c, MS_ENOMEM, "out of memory");
	if (series) {
		st = ms_store_report_series(&out, s, r->name,
		                            since >= 0 ? days : NULL);
		if (st != MS_OK)
			return cli_fail(c, st == MS_EINVAL ? MS_ERROR : st, "%s",
			                ms_store_errmsg(s));
		r->series = json_loads(out.ptr, 0, NULL);
		ms_buf_dispose(&out);
		r->daily = json_object_get(r->series, "daily");
		r->events = json_object_get(r->series, "events");
		if (!json_is_array(r->daily) || !json_is_array(r->events))
			return cli_fail(c, MS_ENOMEM, "out of memory");
	}
	r->since = since;
	r->target = ms_store_target(s);
	now = time(NULL);
	gmtime_r(&now, &tm);
	strftime(r->generated, sizeof r->generated, "%Y-%m-%dT%H:%M:%SZ", &tm);
	return 0;
}

static void print_report(const cli *c, const report *r, const char *html)
{
	size_t nv = json_array_size(r->versions);
	size_t np = json_array_size(r->promotions);
	if (c->json) {
		json_t *doc = json_object();
		json_object_set_new(doc, "generated_at", json_string(r->generated));
		json_object_set_new(doc, "database", json_string(r->target));
		json_object_set_new(doc, "since_days", r->since >= 0
		                    ? json_integer(r->since) : json_null());
		json_object_set_new(doc, "model_name", r->name
		                    ? json_string(r->name) : json_null());
		json_object_set(doc, "versions", r->versions);
		json_object_set(doc, "promotions", r->promotions);
		if (html)
			json_object_set_new(doc, "html_file", json_string(html));
		cli_print_json(doc);
	} else if (html) {
		printf("wrote %s (%zu version%s, %zu promotion%s)\n", html, nv,
		       nv == 1 ? "" : "s", np, np == 1 ? "" : "s");
	} else {
		print_text(r);
	}
}

int cmd_report(cli *c, int argc, char **argv)
{
	report_args a;
	report r = { 0 };
	ms_store *s = NULL;
	int rc = parse_report_args(c, &a, argc, argv);

	if (rc != 0)
		return rc == CLI_HELP_SHOWN ? 0 : rc;
	if ((rc = cli_open_store(c, &s, true)) != 0)
		return rc;
	rc = fetch_report(c, s, a.since, &r, a.html != NULL);
	if (rc == 0 && a.html)
		rc = save_html(c, &r, a.html);
	if (rc == 0)
		print_report(c, &r, a.html);
	json_decref(r.doc);
	json_decref(r.series);
	ms_store_close(s);
	return rc;
}
