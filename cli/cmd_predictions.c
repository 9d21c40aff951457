/* cmd_predictions.c - `modelstore predictions import|actual`. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

#define MAX_LISTED_REJECTIONS 1000

static void usage_text(FILE *f)
{
	fputs("usage: modelstore predictions import [--spool-dir D] [-q]\n"
	      "       modelstore predictions actual ID VALUE\n"
	      "       modelstore predictions actual --file F   (predictions actual --help)\n"
	      "       modelstore predictions prune --older-than AGE [--dry-run]   (prune --help)\n\n"
	      "import  Read NDJSON predictions on stdin, one object a line, with\n"
	      "        the keys model_name (default: --name), model_version,\n"
	      "        input_features (a JSON object), predicted_value,\n"
	      "        actual_value and confidence_score (numbers or null), and\n"
	      "        log them through the prediction logger.  Rows that cannot\n"
	      "        reach the database go to the spool directory (default\n"
	      "        \"spool\") and are replayed by the next run; an empty stdin\n"
	      "        just replays a leftover spool.  Ends with a summary.\n"
	      "        Exit 0: every line accepted and in the database; 1: some\n"
	      "        lines rejected (listed with line numbers); 4: the database\n"
	      "        was unreachable and accepted rows wait in the spool.\n"
	      "actual  Attach the actual value to a logged prediction by its id.\n",
	      f);
}

typedef struct rejection {
	unsigned long line;
	char *reason;
} rejection;

typedef struct import_state {
	rejection *rej;
	size_t nrej, caprej;
	unsigned long rejected, accepted, lines, log_rejected;
} import_state;

static void add_rejection(import_state *st, unsigned long line,
                          const char *reason)
{
	st->rejected++;
	if (st->nrej >= MAX_LISTED_REJECTIONS)
		return;
	if (st->nrej == st->caprej) {
		size_t nc = st->caprej ? st->caprej * 2 : 16;
		rejection *r = realloc(st->rej, nc * sizeof *r);
		if (r == NULL)
			return;
		st->rej = r;
		st->caprej = nc;
	}
	st->rej[st->nrej].line = line;
	st->rej[st->nrej].reason = strdup(reason);
	if (st->rej[st->nrej].reason)
		st->nrej++;
}

/* Optional number: absent or null -> NAN; anything else must be a number. */
static bool opt_number(json_t *o, const char *key, double *out,
                       const char **why)
{
	json_t *v = json_object_get(o, key);
	*out = NAN;
	if (v == NULL || json_is_null(v))
		return true;
	if (!json_is_number(v)) {
		*why = key;
		return false;
	}
	*out = json_number_value(v);
	return true;
}

/* Turn one NDJSON line into a prediction; on failure a reason. */
static bool parse_line(const cli *c, const char *line, size_t len,
                       json_t **doc, char **features, ms_prediction *p,
                       char *reason, size_t rn)
{
	json_error_t err;
	json_t *o, *v;
	const char *bad = NULL;

	*doc = NULL;
	*features = NULL;
	o = json_loadb(line, len, JSON_REJECT_DUPLICATES, &err);
	if (o == NULL) {
		snprintf(reason, rn, "invalid JSON: %s (column %d)", err.text,
		         err.column);
		return false;
	}
	*doc = o;
	if (!json_is_object(o)) {
		snprintf(reason, rn, "not a JSON object");
		return false;
	}
	v = json_object_get(o, "model_name");
	if (v && !json_is_null(v) && !json_is_string(v)) {
		snprintf(reason, rn, "model_name must be a string");
		return false;
	}
	p->model_name = v && json_is_string(v) ? json_string_value(v) : c->name;
	v = json_object_get(o, "model_version");
	if (!json_is_string(v)) {
		snprintf(reason, rn, "model_version (a string) is required");
		return false;
	}
	p->model_version = json_string_value(v);
	v = json_object_get(o, "input_features");
	if (json_is_object(v)) {
		*features = json_dumps(v, JSON_COMPACT | JSON_PRESERVE_ORDER);
		if (*features == NULL) {
			snprintf(reason, rn, "out of memory");
			return false;
		}
		p->input_features = *features;
	} else if (json_is_string(v)) {
		p->input_features = json_string_value(v); /* JSON text; checked */
	} else {
		snprintf(reason, rn, "input_features (a JSON object) is required");
		return false;
	}
	v = json_object_get(o, "predicted_value");
	if (!json_is_number(v)) {
		snprintf(reason, rn, "predicted_value (a number) is required");
		return false;
	}
	p->predicted_value = json_number_value(v);
	if (!opt_number(o, "actual_value", &p->actual_value, &bad) ||
	    !opt_number(o, "confidence_score", &p->confidence_score, &bad)) {
		snprintf(reason, rn, "%s must be a number or null", bad);
		return false;
	}
	return true;
}

static bool spool_has_files(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	bool any = false;
	if (d == NULL)
		return false;
	while (!any && (de = readdir(d)) != NULL)
		any = strncmp(de->d_name, "pl-", 3) == 0;
	closedir(d);
	return any;
}

static void import_state_dispose(import_state *st)
{
	for (size_t i = 0; i < st->nrej; i++)
		free(st->rej[i].reason);
	free(st->rej);
}

/* 0, CLI_HELP_SHOWN, or the exit code of a usage error. */
static int parse_import_args(cli *c, const char **spool_dir, bool *quiet,
                             int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "spool-dir", required_argument, NULL, 'd' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	int opt;

	*spool_dir = "spool";
	*quiet = c->quiet;
	optind = 0;
	while ((opt = getopt_long(argc, argv, "qh", longopts, NULL)) != -1) {
		switch (opt) {
		case 'd': *spool_dir = optarg; break;
		case 'q': *quiet = true; break;
		case 'h': usage_text(stdout); return CLI_HELP_SHOWN;
		default: return cli_usage(c, "unknown option");
		}
	}
	if (optind != argc)
		return cli_usage(c, "import takes no arguments (NDJSON on stdin)");
	return 0;
}

static int open_predlog(const cli *c, const char *spool_dir, ms_predlog **pl)
{
	ms_predlog_options o;
	ms_buf err = MS_BUF_INIT;
	ms_status s;

	ms_predlog_options_init(&o, MS_PREDLOG_OPTIONS_VERSION);
	o.spool_dir = spool_dir;
	s = ms_predlog_open(pl, c->db, &o);
	if (s == MS_OK)
		return 0;
	ms_predlog_last_error(&err, *pl);
	ms_predlog_close(*pl);
	*pl = NULL;
	return cli_fail_buf(c, s, &err);
}

/* One non-blank NDJSON line: logged, or recorded as rejected. */
static void import_line(const cli *c, ms_predlog *pl, import_state *st,
                        const char *line, size_t len)
{
	json_t *doc = NULL;
	char *features = NULL, reason[512];
	ms_prediction p;
	ms_status s;
	ms_buf err = MS_BUF_INIT;

	if (!parse_line(c, line, len, &doc, &features, &p, reason,
	                sizeof reason)) {
		add_rejection(st, st->lines, reason);
	} else if ((s = ms_predlog_log(NULL, pl, &p)) == MS_OK) {
		st->accepted++;
	} else {
		if (s == MS_EINVAL)
			st->log_rejected++;
		ms_predlog_last_error(&err, pl);
		add_rejection(st, st->lines, err.ptr && err.ptr[0]
		              ? err.ptr : ms_status_str(s));
		ms_buf_dispose(&err);
	}
	free(features);
	json_decref(doc);
}

/* Every line of stdin; a running count on stderr when @progress. */
static void import_stdin(const cli *c, ms_predlog *pl, import_state *st,
                         bool progress)
{
	uint64_t last_progress = 0;
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;

	while ((n = getline(&line, &cap, stdin)) != -1) {
		size_t len = (size_t)n;
		st->lines++;
		while (len && (line[len - 1] == '\n' || line[len - 1] == '\r'))
			len--;
		if (strspn(line, " \t") >= len)
			continue; /* blank line */
		import_line(c, pl, st, line, len);
		if (progress && st->lines % 1024 == 0) {
			uint64_t now = cli_now_ns() / 1000000u;
			if (now - last_progress >= 250) {
				last_progress = now;
				fprintf(stderr, "\rimporting: %lu lines, %lu accepted, "
				        "%lu rejected", st->lines, st->accepted, st->rejected);
			}
		}
	}
	free(line);
	if (progress && last_progress)
		fputc('\n', stderr);
}

/* How the logger ended. */
typedef struct import_end {
	ms_status flush, close;
	ms_predlog_stats stats;
	ms_buf err;   /* the logger's last error */
	bool pending; /* rows wait in the spool */
} import_end;

/* Flush and close @pl; @pl is gone afterwards. */
static void finish_import(ms_predlog *pl, const char *spool_dir,
                          import_end *e)
{
	e->flush = ms_predlog_flush(pl, 120000);
	ms_predlog_stats_get(&e->stats, pl);
	ms_predlog_last_error(&e->err, pl);
	e->close = ms_predlog_close(pl);
	e->pending = spool_has_files(spool_dir);
}

static void print_import_json(const import_state *st, const import_end *e,
                              const char *spool_dir)
{
	json_t *doc = json_object(), *arr = json_array();
	for (size_t i = 0; i < st->nrej; i++)
		json_array_append_new(arr, json_pack("{s:I,s:s}", "line",
		                      (json_int_t)st->rej[i].line, "reason",
		                      st->rej[i].reason));
	json_object_set_new(doc, "lines", json_integer((json_int_t)st->lines));
	json_object_set_new(doc, "accepted",
	                    json_integer((json_int_t)st->accepted));
	json_object_set_new(doc, "rejected",
	                    json_integer((json_int_t)st->rejected));
	json_object_set_new(doc, "rejections", arr);
	json_object_set_new(doc, "written",
	                    json_integer((json_int_t)e->stats.written));
	json_object_set_new(doc, "spooled",
	                    json_integer((json_int_t)e->stats.spooled));
	json_object_set_new(doc, "replayed",
	                    json_integer((json_int_t)e->stats.replayed));
	json_object_set_new(doc, "server_rejected",
	                    json_integer((json_int_t)(e->stats.rejected -
	                    st->log_rejected)));
	json_object_set_new(doc, "spool_corrupt",
	                    json_integer((json_int_t)e->stats.spool_corrupt));
	json_object_set_new(doc, "spool_dir", json_string(spool_dir));
	json_object_set_new(doc, "spool_pending", json_boolean(e->pending));
	cli_print_json(doc);
}

static void print_import_text(const import_state *st, const import_end *e,
                              bool quiet)
{
	for (size_t i = 0; i < st->nrej; i++)
		fprintf(stderr, "modelstore: predictions import: line %lu: %s\n",
		        st->rej[i].line, st->rej[i].reason);
	if (st->rejected > st->nrej)
		fprintf(stderr, "modelstore: predictions import: ... and %lu "
		        "more rejected lines\n", st->rejected - st->nrej);
	if (!quiet)
		printf("accepted %lu, rejected %lu, written %llu, spooled %llu, "
		       "replayed %llu%s\n", st->accepted, st->rejected,
		       (unsigned long long)e->stats.written,
		       (unsigned long long)e->stats.spooled,
		       (unsigned long long)e->stats.replayed,
		       e->pending ? " (rows wait in the spool: database "
		                    "unreachable)" : "");
}

/* 0: all in the database; 4: rows wait in the spool; 1: some rejected
 * or lost. */
static int import_exit(const cli *c, const import_state *st,
                       const import_end *e)
{
	const char *why = e->err.ptr && e->err.ptr[0] ? e->err.ptr : NULL;
	int rc = 0;
	if (e->close != MS_OK)
		rc = cli_fail(c, e->close, "%s",
		              why ? why : "rows could not be written or spooled");
	else if (e->pending || e->flush != MS_OK)
		rc = EXIT_UNREACHABLE;
	else if (st->rejected > 0 || e->stats.rejected > st->log_rejected)
		rc = EXIT_ERROR_;
	if (e->pending && !c->json && e->close == MS_OK)
		fprintf(stderr, "modelstore: predictions import: %s\n",
		        why ? why : "database unreachable; rows kept in the spool");
	return rc;
}

static int cmd_import(cli *c, int argc, char **argv)
{
	const char *spool_dir;
	bool quiet;
	ms_predlog *pl = NULL;
	import_state st = { 0 };
	import_end e = { .stats = MS_PREDLOG_STATS_INIT, .err = MS_BUF_INIT };
	int rc = parse_import_args(c, &spool_dir, &quiet, argc, argv);

	if (rc != 0)
		return rc == CLI_HELP_SHOWN ? 0 : rc;
	if ((rc = open_predlog(c, spool_dir, &pl)) != 0)
		return rc;
	import_stdin(c, pl, &st, !quiet && !c->json && isatty(STDERR_FILENO));
	finish_import(pl, spool_dir, &e);
	if (c->json)
		print_import_json(&st, &e, spool_dir);
	else
		print_import_text(&st, &e, quiet);
	rc = import_exit(c, &st, &e);
	ms_buf_dispose(&e.err);
	import_state_dispose(&st);
	return rc;
}

static int cmd_actual(cli *c, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	ms_store *s;
	double value;
	char *end;
	int opt, rc;
	ms_status st;

	optind = 0;
	while ((opt = getopt_long(argc, argv, "+h", longopts, NULL)) != -1) {
		switch (opt) {
		case 'h': usage_text(stdout); return 0;
		default: return cli_usage(c, "unknown option");
		}
	}
	if (argc - optind != 2)
		return cli_usage(c, "expected a prediction ID and a VALUE");
	errno = 0;
	value = strtod(argv[optind + 1], &end);
	if (errno || *end || end == argv[optind + 1] || !isfinite(value))
		return cli_usage(c, "invalid VALUE value: \"%s\"", argv[optind + 1]);
	if ((rc = cli_open_store(c, &s, true)) != 0)
		return rc;
	st = ms_store_record_actual(s, argv[optind], value);
	if (st != MS_OK) {
		rc = cli_fail(c, st, "%s", ms_store_errmsg(s));
		ms_store_close(s);
		return rc;
	}
	ms_store_close(s);
	if (c->json)
		cli_print_json(json_pack("{s:s,s:f}", "prediction_id", argv[optind],
		                         "actual_value", value));
	else if (!c->quiet)
		printf("recorded actual_value %.17g for %s\n", value, argv[optind]);
	return 0;
}

int cmd_predictions(cli *c, int argc, char **argv)
{
	if (argc < 2) {
		usage_text(stderr);
		return EXIT_USAGE;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		usage_text(stdout);
		return 0;
	}
	if (strcmp(argv[1], "import") == 0)
		return cmd_import(c, argc - 1, argv + 1);
	if (strcmp(argv[1], "actual") == 0 && cmd_actuals_wanted(argc - 1, argv + 1))
		return cmd_actuals(c, argc - 1, argv + 1); /* cmd_actuals.c */
	if (strcmp(argv[1], "actual") == 0)
		return cmd_actual(c, argc - 1, argv + 1);
	if (strcmp(argv[1], "prune") == 0)
		return cmd_predictions_prune(c, argc - 1, argv + 1); /* cmd_retention.c */
	return cli_usage(c, "unknown subcommand \"%s\" (import, actual or prune)",
	                 argv[1]);
}
