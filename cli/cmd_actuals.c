/*
 * cmd_actuals.c - `modelstore predictions actual --file F`: actual values
 * in bulk from NDJSON or CSV, through ms_store_record_actuals (one COPY
 * and one UPDATE per batch).  The single-id form stays in
 * cmd_predictions.c.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

/* Rows handed to one ms_store_record_actuals call. */
#define CALL_ROWS 100000

static const char actuals_usage[] =
	"usage: modelstore predictions actual ID VALUE\n"
	"       modelstore predictions actual --file F\n\n"
	"Attach observed values to logged predictions by their id.\n\n"
	"--file F  read many from F (\"-\": standard input), one a line, as\n"
	"          NDJSON {\"prediction_id\": \"<uuid>\", \"actual_value\": 1.5}\n"
	"          (\"id\" and \"value\" are accepted too) or CSV ID,VALUE (a\n"
	"          header line is skipped).  Every line is checked first: a bad\n"
	"          one is reported with its number and nothing is written\n"
	"          (exit 2).  Then the values go in through one COPY and one\n"
	"          UPDATE per 100 000 rows.  Prints how many matched and lists\n"
	"          the ids that matched no prediction (exit 3 when any did not).\n";

bool cmd_actuals_wanted(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--") == 0)
			break;
		if (strcmp(argv[i], "--file") == 0 ||
		    strncmp(argv[i], "--file=", 7) == 0 ||
		    strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
			return true; /* the --help text covers both forms */
	}
	return false;
}

/* What was read: the rows, their ids in one arena. */
typedef struct actuals_in {
	ms_actual *rows;
	char (*ids)[MS_UUID_STRLEN];
	size_t n, cap;
} actuals_in;

static void actuals_in_dispose(actuals_in *a)
{
	free(a->rows);
	free(a->ids);
	memset(a, 0, sizeof *a);
}

static bool push_row(actuals_in *a, const char *id, size_t idlen, double v)
{
	if (a->n == a->cap) {
		size_t cap = a->cap ? a->cap * 2 : 4096;
		ms_actual *r = realloc(a->rows, cap * sizeof *r);
		char (*ids)[MS_UUID_STRLEN];
		if (r == NULL)
			return false;
		a->rows = r;
		ids = realloc(a->ids, cap * sizeof *ids);
		if (ids == NULL)
			return false;
		a->ids = ids;
		a->cap = cap;
	}
	memcpy(a->ids[a->n], id, idlen);
	a->ids[a->n][idlen] = '\0';
	a->rows[a->n].value = v;
	a->n++;
	return true;
}

/* A canonical UUID (8-4-4-4-12 hex), the whole of @p s (@p n bytes). */
static bool is_uuid(const char *s, size_t n)
{
	if (n != 36)
		return false;
	for (size_t i = 0; i < 36; i++) {
		bool dash = i == 8 || i == 13 || i == 18 || i == 23;
		char ch = s[i];
		if (dash ? ch != '-' : !((ch >= '0' && ch <= '9') ||
		                          (ch >= 'a' && ch <= 'f') ||
		                          (ch >= 'A' && ch <= 'F')))
			return false;
	}
	return true;
}

/* Parse one line; NULL when good (or skipped: *skip), else the reason. */
static const char *parse_line(char *line, actuals_in *a, bool first,
                              bool *skip, bool *oom)
{
	char *p = line, *comma, *end;
	const char *id;
	double v;
	size_t idlen;

	*skip = false;
	while (*p == ' ' || *p == '\t')
		p++;
	if (*p == '\0') {
		*skip = true;
		return NULL;
	}
	if (*p == '{') {
		json_error_t je;
		json_t *o = json_loads(p, JSON_REJECT_DUPLICATES, &je), *jid, *jv;
		const char *why = NULL;
		if (!json_is_object(o)) {
			json_decref(o);
			return "not a JSON object";
		}
		jid = json_object_get(o, "prediction_id");
		if (!jid)
			jid = json_object_get(o, "id");
		jv = json_object_get(o, "actual_value");
		if (!jv)
			jv = json_object_get(o, "value");
		if (!json_is_string(jid))
			why = "no \"prediction_id\" string";
		else if (!json_is_number(jv) || !isfinite(json_number_value(jv)))
			why = "no finite \"actual_value\" number";
		else if (!is_uuid(json_string_value(jid), json_string_length(jid)))
			why = "the prediction id is not a UUID";
		else if (!push_row(a, json_string_value(jid), 36,
		                   json_number_value(jv)))
			*oom = true;
		json_decref(o);
		return why;
	}
	comma = strchr(p, ',');
	if (comma == NULL)
		return "expected ID,VALUE or a JSON object";
	id = p;
	idlen = (size_t)(comma - p);
	while (idlen && (id[idlen - 1] == ' ' || id[idlen - 1] == '\t'))
		idlen--;
	if (idlen >= 2 && id[0] == '"' && id[idlen - 1] == '"') {
		id++;
		idlen -= 2;
	}
	p = comma + 1;
	while (*p == ' ' || *p == '\t')
		p++;
	end = p + strlen(p);
	while (end > p && (end[-1] == ' ' || end[-1] == '\t'))
		*--end = '\0';
	errno = 0;
	v = strtod(p, &end);
	if (!is_uuid(id, idlen)) {
		/* a header: the first line, neither field a datum */
		if (first && (*p == '\0' || *end != '\0' || end == p)) {
			*skip = true;
			return NULL;
		}
		return "the prediction id is not a UUID";
	}
	if (errno || end == p || *end != '\0' || !isfinite(v))
		return "the value is not a finite number";
	if (!push_row(a, id, 36, v))
		*oom = true;
	return NULL;
}

/* Read and check every line of @p f.  0, or the exit code (printed). */
static int read_actuals(const cli *c, FILE *f, const char *name,
                        actuals_in *a)
{
	char *line = NULL;
	size_t cap = 0;
	ssize_t len;
	unsigned long lineno = 0;
	bool first = true;
	int rc = 0;

	while ((len = getline(&line, &cap, f)) >= 0) {
		bool skip = false, oom = false;
		const char *why;
		lineno++;
		while (len && (line[len - 1] == '\n' || line[len - 1] == '\r'))
			line[--len] = '\0';
		if (strlen(line) != (size_t)len) {
			rc = cli_usage(c, "%s:%lu: a NUL byte in the line", name,
			               lineno);
			break;
		}
		why = parse_line(line, a, first, &skip, &oom);
		if (oom) {
			rc = cli_fail(c, MS_ENOMEM, "out of memory at line %lu",
			              lineno);
			break;
		}
		if (why) {
			rc = cli_usage(c, "%s:%lu: %s; nothing was written", name,
			               lineno, why);
			break;
		}
		if (!skip)
			first = false;
	}
	if (rc == 0 && ferror(f))
		rc = cli_fail(c, MS_EIO, "%s: read: %s", name, strerror(errno));
	free(line);
	for (size_t i = 0; rc == 0 && i < a->n; i++)
		a->rows[i].prediction_id = a->ids[i];
	return rc;
}

static void print_result(const cli *c, const ms_actuals_result *r)
{
	if (c->json) {
		json_t *ids = json_array();
		char *p = r->unmatched_ids.ptr, *nl;
		while (p && (nl = strchr(p, '\n')) != NULL) {
			json_array_append_new(ids, json_stringn(p, (size_t)(nl - p)));
			p = nl + 1;
		}
		cli_print_json(json_pack("{s:I,s:I,s:I,s:o}", "rows",
		                         (json_int_t)r->rows, "matched",
		                         (json_int_t)r->matched, "unmatched",
		                         (json_int_t)r->unmatched,
		                         "unmatched_ids", ids));
		return;
	}
	printf("%llu row%s: %llu prediction%s matched, %llu id%s matched "
	       "none\n", (unsigned long long)r->rows, r->rows == 1 ? "" : "s",
	       (unsigned long long)r->matched, r->matched == 1 ? "" : "s",
	       (unsigned long long)r->unmatched, r->unmatched == 1 ? "" : "s");
	if (r->unmatched)
		printf("unmatched:\n%s", r->unmatched_ids.ptr);
}

int cmd_actuals(cli *c, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "file", required_argument, NULL, 'f' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	const char *file = NULL;
	actuals_in in = { 0 };
	ms_actuals_result res = MS_ACTUALS_RESULT_INIT;
	ms_store *s = NULL;
	ms_status st = MS_OK;
	FILE *f;
	int opt, rc;

	optind = 0;
	while ((opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (opt) {
		case 'f': file = optarg; break;
		case 'h': fputs(actuals_usage, stdout); return 0;
		default: return cli_usage(c, "unknown option");
		}
	}
	if (optind < argc)
		return cli_usage(c, "--file takes no ID VALUE arguments (\"%s\")",
		                 argv[optind]);
	if (file == NULL || file[0] == '\0')
		return cli_usage(c, "--file needs a file name, or - for stdin");
	f = strcmp(file, "-") == 0 ? stdin : fopen(file, "r");
	if (f == NULL)
		return cli_fail(c, errno == ENOENT ? MS_ENOTFOUND : MS_EIO,
		                "%s: %s", file, strerror(errno));
	rc = read_actuals(c, f, strcmp(file, "-") ? file : "stdin", &in);
	if (f != stdin)
		fclose(f);
	if (rc == 0)
		rc = cli_open_store(c, &s, true);
	for (size_t at = 0; rc == 0 && at < in.n; at += CALL_ROWS) {
		size_t k = in.n - at < CALL_ROWS ? in.n - at : CALL_ROWS;
		st = ms_store_record_actuals(s, in.rows + at, k, &res);
		if (st != MS_OK) {
			rc = cli_fail(c, st, "%s (%llu rows recorded before)",
			              ms_store_errmsg(s),
			              (unsigned long long)res.rows);
			break;
		}
	}
	if (rc == 0) {
		print_result(c, &res);
		rc = res.unmatched ? EXIT_NOTFOUND : 0;
	}
	ms_store_close(s);
	ms_actuals_result_dispose(&res);
	actuals_in_dispose(&in);
	return rc;
}
