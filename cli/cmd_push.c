/*
 * cmd_push.c - `modelstore push`: store a model file, and optionally more
 * artifacts under the same version, all or nothing.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "args.h"
#include "cli.h"

static const char PUSH_HELP[] =
	"usage: modelstore push [options] FILE [ARTIFACT=FILE ...]\n"
	"\n"
	"Store a model file (and optionally more artifacts under the same\n"
	"version, all or nothing) and print its version.\n"
	"\n"
	"  FILE                 the primary artifact (named \"model\"; loaders serve it)\n"
	"  ARTIFACT=FILE        an extra artifact, e.g. scaler=scaler.bin\n"
	"  --version V          version to store (default: YYYYMMDD_HHMMSS, UTC)\n"
	"  --run-id ID          training run id (default: the version)\n"
	"  --type T             model type, e.g. RandomForest (default: unknown)\n"
	"  --accuracy X --rmse X --r2 X   seed metric columns\n"
	"  --metric K=V         extra numeric metric (repeatable)\n"
	"  --metrics-file F     metrics from a JSON object of numbers\n"
	"  --param K=V          training parameter (repeatable); a JSON value\n"
	"                       keeps its type (100, 0.5, [64,32], true), any\n"
	"                       other text is a string\n"
	"  --params-file F      params from a JSON object (--param wins)\n"
	"  --run-id of a started run (`modelstore runs start`) makes the\n"
	"  version part of that run.\n"
	"  --production         promote in the same transaction\n"
	"  --reason TEXT        promotion reason recorded with --production\n"
	"  --compress[=LEVEL]   store zlib-compressed (level 1-9, default 1)\n"
	"  -q, --quiet          no progress\n";

/* --param / --metric KEY=VALUE into @p obj (args.c). */
static int add_kv(cli *c, json_t *obj, const char *opt, const char *arg,
                  bool numeric)
{
	char err[512];
	if (cli_kv_add(obj, opt, arg, numeric, err, sizeof err) != 0)
		return cli_usage(c, "%s", err);
	return 0;
}

/* --params-file / --metrics-file F: merged under the --param/--metric
 * given anywhere on the line (those win). */
static int add_file(cli *c, json_t **file_obj, const char *opt,
                    const char *path, bool numeric)
{
	char err[1024];
	json_t *j;
	if (cli_json_object_file(&j, opt, path, numeric, err, sizeof err) != 0)
		return cli_usage(c, "%s", err);
	json_decref(*file_obj);
	*file_obj = j;
	return 0;
}

/* Everything push collects before it connects. */
typedef struct push_args {
	ms_push_options o;
	double accuracy, rmse, r2; /* what o's metric pointers point to */
	json_t *metrics;         /* --metric K=V */
	json_t *params;          /* --param K=V */
	json_t *metrics_file;    /* --metrics-file F */
	json_t *params_file;     /* --params-file F */
	ms_artifact_source *src; /* FILE, then NAME=FILE ... */
	size_t nsrc;
	char *mtext, *ptext;     /* metrics and params as JSON text, for o */
} push_args;

static void push_args_init(push_args *a, const cli *c)
{
	memset(a, 0, sizeof *a);
	ms_push_options_init(&a->o, MS_PUSH_OPTIONS_VERSION);
	a->o.model_name = c->name;
	a->metrics = json_object();
	a->params = json_object();
}

static void push_args_dispose(push_args *a)
{
	free(a->src);
	free(a->mtext);
	free(a->ptext);
	json_decref(a->metrics);
	json_decref(a->params);
	json_decref(a->metrics_file);
	json_decref(a->params_file);
}

/* --accuracy, --rmse, --r2: parsed into @p val, which @p field then
 * points to (NULL, absent, until given) */
static int metric_arg(cli *c, const char *opt, const char *arg, double *val,
                      const double **field)
{
	if (!cli_parse_double(arg, val))
		return cli_usage(c, "invalid %s value: \"%s\" (not a number)", opt,
		                 arg);
	*field = val;
	return 0;
}

/* --compress[=LEVEL] */
static int compress_arg(cli *c, const char *arg, int *level)
{
	unsigned long long lvl;
	*level = 1;
	if (arg == NULL)
		return 0;
	if (!cli_parse_uint(arg, 9, &lvl) || lvl == 0)
		return cli_usage(c, "invalid --compress value: \"%s\" (1-9)", arg);
	*level = (int)lvl;
	return 0;
}

/* One option: 0, CLI_HELP_SHOWN, or the exit code of a usage error. */
static int push_option(cli *c, push_args *a, int opt)
{
	switch (opt) {
	case 'V': a->o.model_version = optarg; return 0;
	case 'r': a->o.run_id = optarg; return 0;
	case 't': a->o.model_type = optarg; return 0;
	case 'A': return metric_arg(c, "--accuracy", optarg, &a->accuracy,
	                            &a->o.accuracy);
	case 'R': return metric_arg(c, "--rmse", optarg, &a->rmse, &a->o.rmse);
	case '2': return metric_arg(c, "--r2", optarg, &a->r2, &a->o.r2);
	case 'm': return add_kv(c, a->metrics, "--metric", optarg, true);
	case 'p': return add_kv(c, a->params, "--param", optarg, false);
	case 'M': return add_file(c, &a->metrics_file, "--metrics-file", optarg,
	                          true);
	case 'F': return add_file(c, &a->params_file, "--params-file", optarg,
	                          false);
	case 'P': a->o.production = 1; return 0;
	case 'W': a->o.reason = optarg; return 0;
	case 'z': return compress_arg(c, optarg, &a->o.compress_level);
	case 'q': c->quiet = true; return 0;
	case 'h': fputs(PUSH_HELP, stdout); return CLI_HELP_SHOWN;
	default: return cli_usage(c, "unknown option");
	}
}

/* FILE [NAME=FILE ...]: argv[first..] into a->src.  An argument is an
 * extra artifact when the text before its first '=' is a valid name. */
static int collect_sources(cli *c, push_args *a, int first, int argc,
                           char **argv)
{
	a->src = calloc((size_t)(argc - first), sizeof *a->src);
	if (a->src == NULL)
		return cli_fail(c, MS_ENOMEM, "out of memory");
	for (int i = first; i < argc; i++) {
		char *eq = strchr(argv[i], '=');
		ms_artifact_source *src = &a->src[a->nsrc++];
		if (eq) {
			*eq = '\0';
			if (ms_name_check(argv[i]) == MS_OK) {
				src->name = argv[i];
				src->path = eq + 1;
				continue;
			}
			*eq = '=';
		}
		src->path = argv[i];
		if (a->nsrc > 1)
			return cli_usage(c, "give extra artifacts as NAME=FILE: \"%s\"",
			                 argv[i]);
	}
	return 0;
}

/* 0, CLI_HELP_SHOWN, or the exit code of a usage error. */
static int parse_push_args(cli *c, push_args *a, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "version", required_argument, NULL, 'V' },
		{ "run-id", required_argument, NULL, 'r' },
		{ "type", required_argument, NULL, 't' },
		{ "accuracy", required_argument, NULL, 'A' },
		{ "rmse", required_argument, NULL, 'R' },
		{ "r2", required_argument, NULL, '2' },
		{ "metric", required_argument, NULL, 'm' },
		{ "param", required_argument, NULL, 'p' },
		{ "metrics-file", required_argument, NULL, 'M' },
		{ "params-file", required_argument, NULL, 'F' },
		{ "production", no_argument, NULL, 'P' },
		{ "reason", required_argument, NULL, 'W' },
		{ "compress", optional_argument, NULL, 'z' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	int opt, rc = 0;

	optind = 0;
	while (rc == 0 && (opt = getopt_long(argc, argv, "qh", longopts, NULL)) != -1)
		rc = push_option(c, a, opt);
	if (rc)
		return rc;
	if (optind >= argc)
		return cli_usage(c, "no model file given");
	if (a->o.model_version &&
	    (rc = cli_check_selector(c, a->o.model_version, false)) != 0)
		return rc;
	return collect_sources(c, a, optind, argc, argv);
}

/* Bad files are reported before any connection is made. */
static int check_sources(const cli *c, const push_args *a)
{
	for (size_t k = 0; k < a->nsrc; k++) {
		const char *path = a->src[k].path;
		struct stat sb;
		if (stat(path, &sb) != 0)
			return cli_fail(c, errno == ENOENT ? MS_ENOTFOUND : MS_EIO,
			                "%s: %s", path, strerror(errno));
		if (S_ISDIR(sb.st_mode))
			return cli_usage(c, "%s: is a directory, not a model file", path);
		if (access(path, R_OK) != 0)
			return cli_fail(c, MS_EIO, "%s: cannot read: %s", path,
			                strerror(errno));
	}
	return 0;
}

static void print_pushed(const cli *c, ms_store *s, const char *version,
                         size_t nsrc)
{
	ms_artifact_info info = MS_ARTIFACT_INFO_INIT;
	if (!c->json) {
		printf("%s\n", version);
	} else if (ms_store_show(&info, s, c->name, version, NULL) == MS_OK) {
		json_t *j = cli_info_json(&info);
		json_object_set_new(j, "artifacts", json_integer((json_int_t)nsrc));
		cli_print_json(j);
		ms_artifact_info_dispose(&info);
	} else {
		cli_print_json(json_pack("{s:s,s:s}", "model_name", c->name,
		                         "model_version", version));
	}
}

static int run_push(cli *c, push_args *a)
{
	ms_buf version = MS_BUF_INIT;
	ms_store *s = NULL;
	ms_status st;
	int rc;

	if ((a->metrics_file && (json_object_update_missing(a->metrics,
	                                                     a->metrics_file))) ||
	    (a->params_file && (json_object_update_missing(a->params,
	                                                   a->params_file))))
		return cli_fail(c, MS_ENOMEM, "out of memory");
	a->mtext = json_dumps(a->metrics, JSON_COMPACT);
	a->ptext = json_dumps(a->params, JSON_COMPACT);
	if (a->mtext == NULL || a->ptext == NULL)
		return cli_fail(c, MS_ENOMEM, "out of memory");
	a->o.metrics_json = a->mtext;
	a->o.params_json = a->ptext;
	a->o.progress = cli_progress;
	a->o.progress_payload = c;
	if ((rc = cli_open_store(c, &s, true)) != 0)
		return rc;
	st = ms_store_push(&version, s, &a->o, a->src, a->nsrc);
	cli_progress_end(c);
	if (st != MS_OK)
		rc = cli_fail(c, st, "%s", ms_store_errmsg(s));
	else
		print_pushed(c, s, version.ptr, a->nsrc);
	ms_buf_dispose(&version);
	ms_store_close(s);
	return rc;
}

int cmd_push(cli *c, int argc, char **argv)
{
	push_args a;
	int rc;

	push_args_init(&a, c);
	rc = parse_push_args(c, &a, argc, argv);
	if (rc == 0)
		rc = check_sources(c, &a);
	if (rc == 0)
		rc = run_push(c, &a);
	push_args_dispose(&a);
	return rc == CLI_HELP_SHOWN ? 0 : rc;
}
