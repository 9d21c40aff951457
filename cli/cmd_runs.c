/*
 * cmd_runs.c - `modelstore runs start|log|finish|list|show`: training
 * runs, their metrics by step, and metric values appended to a stored
 * version (`runs log --version`).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "args.h"
#include "cli.h"

static const char RUNS_HELP[] =
	"usage: modelstore [--name NAME] runs SUBCOMMAND [options]\n"
	"\n"
	"  start [--run-id ID] [--param K=V ...] [--params-file F]\n"
	"        [--tag K=V ...] [--dataset-size N]\n"
	"        start a run (prints its id; a UUIDv7 unless --run-id)\n"
	"  log RUN_ID [--step N] METRIC=VALUE ...\n"
	"        log values to a running run, all in one statement\n"
	"  log RUN_ID --file F\n"
	"        log NDJSON points from F (\"-\": stdin), one per line:\n"
	"        {\"metric\": \"loss\", \"value\": 0.3, \"step\": 7, \"time_ms\": ...}\n"
	"        (step and time_ms optional), 5000 points per statement\n"
	"  log --version SELECTOR METRIC=VALUE ...\n"
	"        append values to a stored version (VERSION, production,\n"
	"        latest or @ALIAS), e.g. accuracy measured in production\n"
	"  finish RUN_ID [--status finished|failed|killed]\n"
	"        end a run (default: finished)\n"
	"  list [--limit N]\n"
	"        runs, newest first: status, duration, last value of each\n"
	"        metric (every model name unless --name is given)\n"
	"  show RUN_ID [--metric M]\n"
	"        one run with each metric's history by step\n"
	"\n"
	"Every subcommand takes --json.  Params given as K=V keep their JSON\n"
	"type (100, 0.5, [64,32], true); other text is a string.\n";

#define LOG_BATCH 5000

static int store_fail(const cli *c, ms_status st, ms_store *s)
{
	int rc = cli_fail(c, st, "%s", ms_store_errmsg(s));
	ms_store_close(s);
	return rc;
}

/* ------------------------------------------------------------------ */
/* start                                                               */
/* ------------------------------------------------------------------ */

static int runs_start(cli *c, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "run-id", required_argument, NULL, 'r' },
		{ "param", required_argument, NULL, 'p' },
		{ "params-file", required_argument, NULL, 'F' },
		{ "tag", required_argument, NULL, 't' },
		{ "dataset-size", required_argument, NULL, 'n' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	ms_run_options o = MS_RUN_OPTIONS_INIT;
	json_t *params = json_object(), *tags = json_object(), *file = NULL;
	char err[1024], *ptext = NULL, *ttext = NULL;
	unsigned long long n;
	ms_buf id = MS_BUF_INIT;
	ms_store *s = NULL;
	ms_status st;
	int opt, rc = 0;

	o.model_name = c->name;
	optind = 0;
	while (rc == 0 &&
	       (opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (opt) {
		case 'r': o.run_id = optarg; break;
		case 'p':
			if (cli_kv_add(params, "--param", optarg, false, err,
			               sizeof err) != 0)
				rc = cli_usage(c, "%s", err);
			break;
		case 't':
			if (cli_kv_add(tags, "--tag", optarg, false, err,
			               sizeof err) != 0)
				rc = cli_usage(c, "%s", err);
			break;
		case 'F':
			json_decref(file);
			file = NULL;
			if (cli_json_object_file(&file, "--params-file", optarg,
			                         false, err, sizeof err) != 0)
				rc = cli_usage(c, "%s", err);
			break;
		case 'n':
			if (!cli_parse_uint(optarg, (unsigned long long)INT64_MAX, &n))
				rc = cli_usage(c, "invalid --dataset-size value: \"%s\"",
				               optarg);
			o.dataset_size = (int64_t)n;
			break;
		case 'h': fputs(RUNS_HELP, stdout); rc = CLI_HELP_SHOWN; break;
		default: rc = cli_usage(c, "unknown option"); break;
		}
	}
	if (rc == 0 && optind < argc)
		rc = cli_usage(c, "unexpected argument \"%s\"", argv[optind]);
	if (rc == 0 && file && json_object_update_missing(params, file) != 0)
		rc = cli_fail(c, MS_ENOMEM, "out of memory");
	if (rc == 0) {
		ptext = json_dumps(params, JSON_COMPACT | JSON_REAL_PRECISION(15));
		ttext = json_dumps(tags, JSON_COMPACT | JSON_REAL_PRECISION(15));
		if (ptext == NULL || ttext == NULL)
			rc = cli_fail(c, MS_ENOMEM, "out of memory");
	}
	o.params_json = ptext;
	o.tags_json = ttext;
	if (rc == 0 && (rc = cli_open_store(c, &s, true)) == 0) {
		st = ms_run_start(&id, s, &o);
		if (st != MS_OK) {
			rc = store_fail(c, st, s);
			s = NULL;
		} else if (c->json) {
			cli_print_json(json_pack("{s:s,s:s,s:s}", "run_id", id.ptr,
			                         "model_name", c->name, "status",
			                         "running"));
		} else {
			printf("%s\n", id.ptr);
		}
	}
	ms_store_close(s);
	ms_buf_dispose(&id);
	free(ptext);
	free(ttext);
	json_decref(file);
	json_decref(params);
	json_decref(tags);
	return rc == CLI_HELP_SHOWN ? 0 : rc;
}

/* ------------------------------------------------------------------ */
/* log                                                                 */
/* ------------------------------------------------------------------ */

/* Points of NDJSON lines from @p f, @p max at most, into @p pts, whose
 * metric names are copied into @p names (MS_METRIC_MAX + 1 each).  Sets
 * *@p n; returns 0, or the exit code of a bad line (*@p line says
 * which). */
static int read_points(cli *c, FILE *f, const char *path,
                       ms_metric_point *pts, char (*names)[MS_METRIC_MAX + 1],
                       size_t max, size_t *n, unsigned long *line)
{
	char *buf = NULL;
	size_t cap = 0;
	ssize_t len;
	int rc = 0;

	*n = 0;
	while (*n < max && (len = getline(&buf, &cap, f)) >= 0) {
		json_error_t je;
		json_t *j, *m, *v, *st, *tm;
		(*line)++;
		if (len == 0 || buf[0] == '\n')
			continue;
		j = json_loads(buf, JSON_REJECT_DUPLICATES, &je);
		m = json_object_get(j, "metric");
		v = json_object_get(j, "value");
		st = json_object_get(j, "step");
		tm = json_object_get(j, "time_ms");
		if (!json_is_object(j) || !json_is_string(m) ||
		    !json_is_number(v) || (st && !json_is_integer(st) &&
		                           !json_is_null(st)) ||
		    (tm && !json_is_integer(tm) && !json_is_null(tm)) ||
		    strlen(json_string_value(m)) > MS_METRIC_MAX) {
			rc = cli_usage(c, "%s: line %lu: expected {\"metric\": NAME, "
			               "\"value\": NUMBER[, \"step\": INTEGER]"
			               "[, \"time_ms\": INTEGER]}", path, *line);
			json_decref(j);
			break;
		}
		snprintf(names[*n], MS_METRIC_MAX + 1, "%s", json_string_value(m));
		pts[*n].metric = names[*n];
		pts[*n].value = json_number_value(v);
		pts[*n].step = json_is_integer(st) ? json_integer_value(st)
		                                   : MS_STEP_NONE;
		pts[*n].time_ms = json_is_integer(tm) ? json_integer_value(tm) : 0;
		(*n)++;
		json_decref(j);
	}
	free(buf);
	return rc;
}

/* runs log RUN_ID --file F: batches of LOG_BATCH points, one statement
 * each; a bad line stops before its batch is sent. */
static int log_file(cli *c, ms_store *s, const char *run, const char *path,
                    size_t *total)
{
	FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "r");
	ms_metric_point *pts = calloc(LOG_BATCH, sizeof *pts);
	char (*names)[MS_METRIC_MAX + 1] = calloc(LOG_BATCH, sizeof *names);
	unsigned long line = 0;
	int rc = 0;

	if (f == NULL)
		rc = cli_fail(c, errno == ENOENT ? MS_ENOTFOUND : MS_EIO,
		              "%s: %s", path, strerror(errno));
	else if (pts == NULL || names == NULL)
		rc = cli_fail(c, MS_ENOMEM, "out of memory");
	while (rc == 0) {
		size_t n = 0;
		ms_status st;
		rc = read_points(c, f, path, pts, names, LOG_BATCH, &n, &line);
		if (rc != 0 || n == 0)
			break;
		st = ms_run_log_metrics(s, run, pts, n);
		if (st != MS_OK)
			rc = cli_fail(c, st, "%s", ms_store_errmsg(s));
		else
			*total += n;
	}
	if (rc == 0 && f && ferror(f))
		rc = cli_fail(c, MS_EIO, "%s: read error", path);
	if (f && f != stdin)
		fclose(f);
	free(pts);
	free(names);
	return rc;
}

static int runs_log(cli *c, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "step", required_argument, NULL, 's' },
		{ "file", required_argument, NULL, 'f' },
		{ "version", required_argument, NULL, 'V' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	const char *file = NULL, *version = NULL, *run = NULL;
	unsigned long long step = 0;
	bool has_step = false;
	json_t *kv = json_object();
	ms_metric_point *pts = NULL;
	ms_store *s = NULL;
	size_t n = 0, total = 0;
	char err[512];
	int opt, rc = 0;

	optind = 0;
	while (rc == 0 &&
	       (opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (opt) {
		case 's':
			if (!cli_parse_uint(optarg, (unsigned long long)INT64_MAX,
			                    &step))
				rc = cli_usage(c, "invalid --step value: \"%s\" (0 or "
				               "more)", optarg);
			has_step = true;
			break;
		case 'f': file = optarg; break;
		case 'V': version = optarg; break;
		case 'h': fputs(RUNS_HELP, stdout); rc = CLI_HELP_SHOWN; break;
		default: rc = cli_usage(c, "unknown option"); break;
		}
	}
	if (rc == 0 && version == NULL) {
		if (optind >= argc)
			rc = cli_usage(c, "expected a RUN_ID (or --version SELECTOR)");
		else
			run = argv[optind++];
	}
	if (rc == 0 && version)
		rc = cli_check_selector(c, version, true);
	if (rc == 0 && file && (version || optind < argc || has_step))
		rc = cli_usage(c, "--file takes no METRIC=VALUE, --step or "
		               "--version");
	else if (rc == 0 && file == NULL && optind >= argc)
		rc = cli_usage(c, "expected METRIC=VALUE ...");
	else if (rc == 0 && version && has_step)
		rc = cli_usage(c, "--step is for runs, not --version");
	for (int i = optind; rc == 0 && i < argc; i++) {
		char *eq = strchr(argv[i], '=');
		if (eq) {
			*eq = '\0';
			if (ms_metric_name_check(argv[i]) != MS_OK)
				rc = cli_usage(c, "invalid metric name \"%.*s\" (1-%d of "
				               "A-Z a-z 0-9 _ . - /, starting with a "
				               "letter or _)", MS_METRIC_MAX + 8, argv[i],
				               MS_METRIC_MAX);
			*eq = '=';
		}
		if (rc == 0 &&
		    cli_kv_add(kv, "log", argv[i], true, err, sizeof err) != 0)
			rc = cli_usage(c, "%s", err);
	}
	if (rc == 0 && file == NULL) {
		const char *k;
		json_t *v;
		pts = calloc(json_object_size(kv) + 1, sizeof *pts);
		if (pts == NULL)
			rc = cli_fail(c, MS_ENOMEM, "out of memory");
		json_object_foreach(kv, k, v) {
			if (pts == NULL)
				break;
			pts[n].metric = k;
			pts[n].value = json_number_value(v);
			pts[n].step = has_step ? (int64_t)step : MS_STEP_NONE;
			pts[n].time_ms = 0;
			n++;
		}
	}
	if (rc == 0)
		rc = cli_open_store(c, &s, true);
	if (rc == 0) {
		ms_status st = MS_OK;
		if (file) {
			rc = log_file(c, s, run, file, &total);
		} else if (version) {
			for (size_t i = 0; st == MS_OK && i < n; i++)
				st = ms_store_log_version_metric(s, c->name, version,
				                                 pts[i].metric,
				                                 pts[i].value, 0);
			total = st == MS_OK ? n : 0;
		} else {
			st = ms_run_log_metrics(s, run, pts, n);
			total = st == MS_OK ? n : 0;
		}
		if (st != MS_OK)
			rc = cli_fail(c, st, "%s", ms_store_errmsg(s));
	}
	if (rc == 0) {
		if (c->json)
			cli_print_json(json_pack("{s:s?,s:s?,s:I}", "run_id", run,
			                         "model_version", version, "logged",
			                         (json_int_t)total));
		else
			printf("logged %zu point%s\n", total, total == 1 ? "" : "s");
	}
	ms_store_close(s);
	free(pts);
	json_decref(kv);
	return rc == CLI_HELP_SHOWN ? 0 : rc;
}

/* ------------------------------------------------------------------ */
/* finish                                                              */
/* ------------------------------------------------------------------ */

static int runs_finish(cli *c, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "status", required_argument, NULL, 's' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	ms_run_status status = MS_RUN_FINISHED;
	ms_store *s;
	ms_status st;
	int opt, rc;

	optind = 0;
	while ((opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (opt) {
		case 's':
			if (ms_run_status_parse(&status, optarg) != MS_OK ||
			    status == MS_RUN_RUNNING)
				return cli_usage(c, "invalid --status value: \"%.40s\" "
				                 "(finished, failed or killed)", optarg);
			break;
		case 'h': fputs(RUNS_HELP, stdout); return 0;
		default: return cli_usage(c, "unknown option");
		}
	}
	if (optind != argc - 1)
		return cli_usage(c, "expected one RUN_ID");
	if ((rc = cli_open_store(c, &s, true)) != 0)
		return rc;
	st = ms_run_finish(s, argv[optind], status);
	if (st != MS_OK)
		return store_fail(c, st, s);
	if (c->json)
		cli_print_json(json_pack("{s:s,s:s}", "run_id", argv[optind],
		                         "status", ms_run_status_str(status)));
	else
		printf("%s %s\n", argv[optind], ms_run_status_str(status));
	ms_store_close(s);
	return 0;
}

/* ------------------------------------------------------------------ */
/* list and show                                                       */
/* ------------------------------------------------------------------ */

static void fmt_duration(char *buf, size_t n, json_t *secs)
{
	double d;
	if (!json_is_number(secs)) {
		snprintf(buf, n, "-");
		return;
	}
	d = json_number_value(secs);
	if (d < 60) {
		snprintf(buf, n, "%.1fs", d);
	} else {
		long long t = (long long)d;
		if (t < 3600)
			snprintf(buf, n, "%lldm%02llds", t / 60, t % 60);
		else
			snprintf(buf, n, "%lldh%02lldm", t / 3600, t / 60 % 60);
	}
}

/* "name=value name=value" of a metrics object ({"name": number}). */
static void print_last_values(json_t *metrics)
{
	const char *k;
	json_t *v;
	json_object_foreach(metrics, k, v) {
		char val[32], name[4 * MS_METRIC_MAX + 1];
		cli_fmt_metric(val, sizeof val,
		               json_is_number(v) ? json_number_value(v) : NAN);
		printf(" %s=%s", cli_safe(name, sizeof name, k), val);
	}
}

/* The server's JSON document in @p b as a jansson value, or the exit
 * code of the failure. */
static int parse_doc(const cli *c, ms_buf *b, json_t **out)
{
	*out = json_loads(b->ptr, JSON_DECODE_ANY, NULL);
	ms_buf_dispose(b);
	if (*out == NULL)
		return cli_fail(c, MS_ERROR, "unreadable answer from the server");
	return 0;
}

static int runs_list(cli *c, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "limit", required_argument, NULL, 'l' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	unsigned long long limit = 0;
	ms_buf b = MS_BUF_INIT;
	json_t *doc, *r;
	ms_store *s;
	ms_status st;
	size_t i;
	int opt, rc;

	optind = 0;
	while ((opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (opt) {
		case 'l':
			if (!cli_parse_uint(optarg, 1000000000ull, &limit))
				return cli_usage(c, "invalid --limit value: \"%s\"",
				                 optarg);
			break;
		case 'h': fputs(RUNS_HELP, stdout); return 0;
		default: return cli_usage(c, "unknown option");
		}
	}
	if (optind < argc)
		return cli_usage(c, "unexpected argument \"%s\"", argv[optind]);
	if ((rc = cli_open_store(c, &s, true)) != 0)
		return rc;
	st = ms_run_list(&b, s, c->name_given ? c->name : NULL, (size_t)limit);
	if (st != MS_OK)
		return store_fail(c, st, s);
	ms_store_close(s);
	if ((rc = parse_doc(c, &b, &doc)) != 0)
		return rc;
	if (c->json) {
		cli_print_json(doc);
		return 0;
	}
	printf("%-36s %-16s %-9s %-25s %9s  %s\n", "RUN_ID", "NAME", "STATUS",
	       "STARTED", "DURATION", "METRICS (last value)");
	json_array_foreach(doc, i, r) {
		char id[4 * MS_RUN_ID_MAX + 1], dur[32];
		fmt_duration(dur, sizeof dur,
		             json_object_get(r, "duration_seconds"));
		printf("%-36s %-16s %-9s %-25.25s %9s ",
		       cli_safe(id, sizeof id, json_string_value(
		                json_object_get(r, "run_id"))),
		       json_string_value(json_object_get(r, "model_name")),
		       json_string_value(json_object_get(r, "status")),
		       json_string_value(json_object_get(r, "started_at")), dur);
		print_last_values(json_object_get(r, "metrics"));
		printf("\n");
	}
	json_decref(doc);
	return 0;
}

static void print_run(json_t *r)
{
	char id[4 * MS_RUN_ID_MAX + 1], dur[32];
	const char *k;
	json_t *m, *v;
	char *params = json_dumps(json_object_get(r, "params"),
	                          JSON_COMPACT | JSON_REAL_PRECISION(15));
	char *tags = json_dumps(json_object_get(r, "tags"),
	                        JSON_COMPACT | JSON_REAL_PRECISION(15));
	char *versions = json_dumps(json_object_get(r, "versions"),
	                            JSON_COMPACT);
	size_t cap = 2048;
	char *safe = malloc(cap);

	fmt_duration(dur, sizeof dur, json_object_get(r, "duration_seconds"));
	printf("run_id:       %s\nmodel_name:   %s\nstatus:       %s\n"
	       "started_at:   %s\nended_at:     %s\nduration:     %s\n",
	       cli_safe(id, sizeof id,
	                json_string_value(json_object_get(r, "run_id"))),
	       json_string_value(json_object_get(r, "model_name")),
	       json_string_value(json_object_get(r, "status")),
	       json_string_value(json_object_get(r, "started_at")),
	       json_is_string(json_object_get(r, "ended_at"))
	       ? json_string_value(json_object_get(r, "ended_at")) : "-", dur);
	v = json_object_get(r, "dataset_size");
	if (json_is_integer(v))
		printf("dataset_size: %lld\n", (long long)json_integer_value(v));
	else
		printf("dataset_size: -\n");
	if (safe) {
		printf("params:       %s\n", cli_safe(safe, cap, params ? params : "{}"));
		printf("tags:         %s\n", cli_safe(safe, cap, tags ? tags : "{}"));
	}
	printf("versions:     %s\n", versions ? versions : "[]");
	printf("metrics:%s\n", json_object_size(json_object_get(r, "metrics"))
	                      ? "" : "      (none)");
	json_object_foreach(json_object_get(r, "metrics"), k, m) {
		char val[32], name[4 * MS_METRIC_MAX + 1];
		size_t i;
		json_t *p;
		json_t *last = json_object_get(m, "last");
		cli_fmt_metric(val, sizeof val,
		               json_is_number(last) ? json_number_value(last) : NAN);
		printf("  %s: last %s (%lld point%s)\n",
		       cli_safe(name, sizeof name, k), val,
		       (long long)json_integer_value(json_object_get(m, "count")),
		       json_integer_value(json_object_get(m, "count")) == 1 ? ""
		                                                            : "s");
		json_array_foreach(json_object_get(m, "history"), i, p) {
			json_t *st = json_object_get(p, "step");
			json_t *pv = json_object_get(p, "value");
			char stp[24];
			if (json_is_integer(st))
				snprintf(stp, sizeof stp, "%lld",
				         (long long)json_integer_value(st));
			else
				snprintf(stp, sizeof stp, "-");
			cli_fmt_metric(val, sizeof val, json_is_number(pv)
			                                ? json_number_value(pv) : NAN);
			printf("    step %-8s %-12s %s\n", stp, val,
			       json_string_value(json_object_get(p, "recorded_at")));
		}
	}
	free(safe);
	free(params);
	free(tags);
	free(versions);
}

static int runs_show(cli *c, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "metric", required_argument, NULL, 'm' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	const char *metric = NULL;
	ms_buf b = MS_BUF_INIT;
	json_t *doc;
	ms_store *s;
	ms_status st;
	int opt, rc;

	optind = 0;
	while ((opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (opt) {
		case 'm':
			if (ms_metric_name_check(optarg) != MS_OK)
				return cli_usage(c, "invalid --metric value: \"%.*s\"",
				                 MS_METRIC_MAX + 8, optarg);
			metric = optarg;
			break;
		case 'h': fputs(RUNS_HELP, stdout); return 0;
		default: return cli_usage(c, "unknown option");
		}
	}
	if (optind != argc - 1)
		return cli_usage(c, "expected one RUN_ID");
	if ((rc = cli_open_store(c, &s, true)) != 0)
		return rc;
	st = ms_run_show(&b, s, argv[optind], metric);
	if (st != MS_OK)
		return store_fail(c, st, s);
	ms_store_close(s);
	if ((rc = parse_doc(c, &b, &doc)) != 0)
		return rc;
	if (c->json) {
		cli_print_json(doc);
		return 0;
	}
	print_run(doc);
	json_decref(doc);
	return 0;
}

int cmd_runs(cli *c, int argc, char **argv)
{
	static const struct {
		const char *name;
		int (*fn)(cli *, int, char **);
	} subs[] = {
		{ "start", runs_start }, { "log", runs_log },
		{ "finish", runs_finish }, { "list", runs_list },
		{ "show", runs_show }, { NULL, NULL }
	};
	if (argc < 2 || strcmp(argv[1], "--help") == 0 ||
	    strcmp(argv[1], "-h") == 0) {
		fputs(RUNS_HELP, argc < 2 ? stderr : stdout);
		return argc < 2 ? EXIT_USAGE : 0;
	}
	for (int i = 0; subs[i].name; i++)
		if (strcmp(argv[1], subs[i].name) == 0)
			return subs[i].fn(c, argc - 1, argv + 1);
	return cli_usage(c, "unknown runs subcommand \"%.40s\" (start, log, "
	                 "finish, list, show)", argv[1]);
}
