/*
 * main.c - the modelstore command-line tool: global options, dispatch,
 * and the registry commands.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"

/* ------------------------------------------------------------------ */
/* shared helpers (declared in cli.h)                                  */
/* ------------------------------------------------------------------ */

int cli_exit_for(ms_status st)
{
	switch (st) {
	case MS_OK: return EXIT_OK_;
	case MS_EINVAL: return EXIT_USAGE;
	case MS_ENOTFOUND: return EXIT_NOTFOUND;
	case MS_EUNREACHABLE: return EXIT_UNREACHABLE;
	case MS_EINTEGRITY: return EXIT_INTEGRITY;
	default: return EXIT_ERROR_;
	}
}

static int fail_v(const cli *c, ms_status st, int code, const char *fmt,
                  va_list ap)
{
	char buf[2048];
	const char *msg = buf;
	size_t cl = c->command ? strlen(c->command) : 0;
	vsnprintf(buf, sizeof buf, fmt, ap);
	/* library messages start with the operation; don't say it twice */
	if (cl && strncmp(buf, c->command, cl) == 0 && buf[cl] == ':' &&
	    buf[cl + 1] == ' ')
		msg = buf + cl + 2;
	if (c->json) {
		json_t *o = json_pack("{s:{s:s,s:s,s:s,s:i}}", "error", "command",
		                      c->command ? c->command : "",
		                      "message", msg, "status", ms_status_str(st),
		                      "exit_code", code);
		char *t = o ? json_dumps(o, JSON_COMPACT) : NULL;
		fprintf(stderr, "%s\n", t ? t : "{\"error\":{}}");
		free(t);
		json_decref(o);
	} else if (c->command) {
		fprintf(stderr, "modelstore: %s: %s\n", c->command, msg);
	} else {
		fprintf(stderr, "modelstore: %s\n", msg);
	}
	return code;
}

int cli_fail(const cli *c, ms_status st, const char *fmt, ...)
{
	va_list ap;
	int code;
	va_start(ap, fmt);
	code = fail_v(c, st, cli_exit_for(st), fmt, ap);
	va_end(ap);
	return code;
}

int cli_usage(const cli *c, const char *fmt, ...)
{
	va_list ap;
	char full[1024];
	snprintf(full, sizeof full, "%s (see `modelstore %s --help`)", fmt,
	         c->command ? c->command : "");
	va_start(ap, fmt);
	fail_v(c, MS_EINVAL, EXIT_USAGE, full, ap);
	va_end(ap);
	return EXIT_USAGE;
}

int cli_open_store(const cli *c, ms_store **out, bool check_schema)
{
	ms_store_options o;
	ms_status st;
	ms_store_options_init(&o, MS_STORE_OPTIONS_VERSION);
	o.check_schema = check_schema;
	st = ms_store_open(out, c->db, &o);
	if (st == MS_OK)
		return 0;
	{
		int code = cli_fail(c, st, "%s", ms_store_errmsg(*out));
		ms_store_close(*out);
		*out = NULL;
		return code;
	}
}

void cli_print_json(json_t *doc)
{
	char *t = json_dumps(doc, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	if (t) {
		fputs(t, stdout);
		fputc('\n', stdout);
	}
	free(t);
	json_decref(doc);
}

typedef struct progress_state {
	uint64_t start_ns;
	uint64_t last_ns;
	bool shown;
} progress_state;
static progress_state g_progress;

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void cli_progress(void *payload, uint64_t done, uint64_t total)
{
	const cli *c = payload;
	uint64_t t = now_ns();
	double secs, rate;
	if (c->json || c->quiet || !isatty(2))
		return;
	if (g_progress.start_ns == 0)
		g_progress.start_ns = t;
	if (t - g_progress.last_ns < 100000000u && done != total)
		return;
	g_progress.last_ns = t;
	secs = (double)(t - g_progress.start_ns) / 1e9;
	rate = secs > 0 ? (double)done / secs : 0;
	if (total)
		fprintf(stderr, "\r%8.1f / %.1f MiB  %7.1f MB/s  %3.0f%%  ETA %4.0fs ",
		        done / 1048576.0, total / 1048576.0, rate / 1e6,
		        100.0 * (double)done / (double)total,
		        rate > 0 ? (double)(total - (done < total ? done : total)) / rate
		                 : 0.0);
	else
		fprintf(stderr, "\r%8.1f MiB  %7.1f MB/s ", done / 1048576.0,
		        rate / 1e6);
	g_progress.shown = true;
}

void cli_progress_end(const cli *c)
{
	(void)c;
	if (g_progress.shown)
		fputc('\n', stderr);
	memset(&g_progress, 0, sizeof g_progress);
}

bool cli_wants_help(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--") == 0)
			break;
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
			return true;
	}
	return false;
}

/* Commands of other files; these weak fallbacks keep a partial build
 * linkable and say so plainly. */
__attribute__((weak)) int cmd_load(cli *c, int argc, char **argv)
{
	if (cli_wants_help(argc, argv)) {
		puts("usage: modelstore load (not available in this build)");
		return 0;
	}
	return cli_fail(c, MS_ERROR, "not available in this build");
}
__attribute__((weak)) int cmd_predictions(cli *c, int argc, char **argv)
{
	if (cli_wants_help(argc, argv)) {
		puts("usage: modelstore predictions (not available in this build)");
		return 0;
	}
	return cli_fail(c, MS_ERROR, "not available in this build");
}
__attribute__((weak)) int cmd_report(cli *c, int argc, char **argv)
{
	if (cli_wants_help(argc, argv)) {
		puts("usage: modelstore report (not available in this build)");
		return 0;
	}
	return cli_fail(c, MS_ERROR, "not available in this build");
}

/* ------------------------------------------------------------------ */
/* small parsing helpers                                               */
/* ------------------------------------------------------------------ */

static bool parse_double(const char *s, double *out)
{
	char *end;
	if (s == NULL || *s == '\0')
		return false;
	errno = 0;
	*out = strtod(s, &end);
	return errno == 0 && *end == '\0' && isfinite(*out);
}

static bool parse_uint(const char *s, unsigned long long max,
                       unsigned long long *out)
{
	char *end;
	if (s == NULL || *s < '0' || *s > '9')
		return false;
	errno = 0;
	*out = strtoull(s, &end, 10);
	return errno == 0 && *end == '\0' && *out <= max;
}

static json_t *num_or_null(double v)
{
	return isnan(v) ? json_null() : json_real(v);
}

static json_t *parse_json_or_empty(const char *t)
{
	json_t *j = t ? json_loads(t, 0, NULL) : NULL;
	return j ? j : json_object();
}

static json_t *info_json(const ms_artifact_info *i)
{
	json_t *o = json_object();
	json_object_set_new(o, "id", json_integer(i->id));
	json_object_set_new(o, "model_name", json_string(i->model_name));
	json_object_set_new(o, "model_version", json_string(i->model_version));
	json_object_set_new(o, "artifact", json_string(i->artifact));
	json_object_set_new(o, "run_id", json_string(i->run_id));
	json_object_set_new(o, "model_type", json_string(i->model_type));
	json_object_set_new(o, "model_size_bytes", json_integer(i->size));
	json_object_set_new(o, "stored_size_bytes", json_integer(i->stored_size));
	json_object_set_new(o, "compression", json_string(i->compression));
	json_object_set_new(o, "chunk_count", json_integer(i->chunk_count));
	json_object_set_new(o, "sha256", i->sha256[0] ? json_string(i->sha256)
	                                              : json_null());
	json_object_set_new(o, "is_production", json_boolean(i->is_production));
	json_object_set_new(o, "accuracy_score", num_or_null(i->accuracy));
	json_object_set_new(o, "rmse_score", num_or_null(i->rmse));
	json_object_set_new(o, "r2_score", num_or_null(i->r2));
	json_object_set_new(o, "metrics", parse_json_or_empty(i->metrics_json));
	json_object_set_new(o, "params", parse_json_or_empty(i->params_json));
	json_object_set_new(o, "created_at", json_string(i->created_at));
	return o;
}

void cli_fmt_size(char *buf, size_t n, int64_t v)
{
	if (v < 0)
		snprintf(buf, n, "?");
	else if (v < 10 * 1024)
		snprintf(buf, n, "%lld B", (long long)v);
	else if (v < 10ll * 1024 * 1024)
		snprintf(buf, n, "%.1f KiB", v / 1024.0);
	else if (v < 10ll * 1024 * 1024 * 1024)
		snprintf(buf, n, "%.1f MiB", v / 1048576.0);
	else
		snprintf(buf, n, "%.1f GiB", v / 1073741824.0);
}

static void fmt_metric(char *buf, size_t n, double v)
{
	if (isnan(v))
		snprintf(buf, n, "-");
	else
		snprintf(buf, n, "%.4g", v);
}

/* ------------------------------------------------------------------ */
/* commands                                                            */
/* ------------------------------------------------------------------ */

/* Bad versions are usage errors, reported before any connection. */
static int check_selector(const cli *c, const char *sel, bool words_ok)
{
	bool word = strcmp(sel, "production") == 0 || strcmp(sel, "latest") == 0;
	if ((word && words_ok) || ms_version_check(sel) == MS_OK)
		return 0;
	return cli_usage(c, "invalid version: \"%.*s\" (1-%d of A-Z a-z 0-9 . _ -%s)",
	                 MS_VERSION_MAX + 8, sel, MS_VERSION_MAX,
	                 words_ok ? ", or production/latest" : "");
}

static int cmd_migrate(cli *c, int argc, char **argv)
{
	ms_store *s;
	int applied = 0, dbv = 0, libv = 0, rc;
	ms_status st;
	if (cli_wants_help(argc, argv)) {
		puts("usage: modelstore migrate\n\n"
		     "Apply the pending schema migrations in one transaction under an\n"
		     "advisory lock.  Idempotent; safe to run concurrently.");
		return 0;
	}
	if (argc > 1)
		return cli_usage(c, "unexpected argument \"%s\"", argv[1]);
	if ((rc = cli_open_store(c, &s, false)) != 0)
		return rc;
	st = ms_store_migrate(s, &applied);
	if (st == MS_OK)
		st = ms_store_schema_version(s, &dbv, &libv);
	if (st != MS_OK) {
		rc = cli_fail(c, st, "%s", ms_store_errmsg(s));
		ms_store_close(s);
		return rc;
	}
	if (c->json)
		cli_print_json(json_pack("{s:i,s:i}", "applied", applied,
		                         "schema_version", dbv));
	else
		printf("applied %d migration%s; schema at version %d\n", applied,
		       applied == 1 ? "" : "s", dbv);
	ms_store_close(s);
	return 0;
}

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
	"  --param K=V          training parameter (repeatable)\n"
	"  --production         promote in the same transaction\n"
	"  --reason TEXT        promotion reason recorded with --production\n"
	"  --compress[=LEVEL]   store zlib-compressed (level 1-9, default 1)\n"
	"  -q, --quiet          no progress\n";

static int add_kv(cli *c, json_t *obj, const char *opt, const char *arg,
                  bool numeric)
{
	const char *eq = strchr(arg, '=');
	char key[256];
	double v;
	json_t *val;
	if (eq == NULL || eq == arg || (size_t)(eq - arg) >= sizeof key)
		return cli_usage(c, "invalid %s value: \"%s\" (expected KEY=VALUE)",
		                 opt, arg);
	memcpy(key, arg, (size_t)(eq - arg));
	key[eq - arg] = '\0';
	if (numeric) {
		if (!parse_double(eq + 1, &v))
			return cli_usage(c, "invalid %s value: \"%s\" (not a number)",
			                 opt, arg);
		val = json_real(v);
	} else if (parse_double(eq + 1, &v)) {
		val = json_real(v);
	} else if (strcmp(eq + 1, "true") == 0 || strcmp(eq + 1, "false") == 0) {
		val = json_boolean(eq[1] == 't');
	} else {
		val = json_string(eq + 1);
		if (val == NULL)
			return cli_usage(c, "invalid %s value: not UTF-8", opt);
	}
	json_object_set_new(obj, key, val);
	return 0;
}

static int cmd_push(cli *c, int argc, char **argv)
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
		{ "production", no_argument, NULL, 'P' },
		{ "reason", required_argument, NULL, 'W' },
		{ "compress", optional_argument, NULL, 'z' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	ms_push_options o;
	json_t *metrics = json_object(), *params = json_object();
	char *mtext = NULL, *ptext = NULL;
	ms_artifact_source *src = NULL;
	size_t nsrc = 0;
	ms_buf version = MS_BUF_INIT;
	ms_store *s = NULL;
	int opt, rc = 0, i;
	ms_status st;

	ms_push_options_init(&o, MS_PUSH_OPTIONS_VERSION);
	o.model_name = c->name;
	optind = 0;
	while (rc == 0 && (opt = getopt_long(argc, argv, "qh", longopts, NULL)) != -1) {
		unsigned long long lvl;
		switch (opt) {
		case 'V': o.model_version = optarg; break;
		case 'r': o.run_id = optarg; break;
		case 't': o.model_type = optarg; break;
		case 'A':
			if (!parse_double(optarg, &o.accuracy))
				rc = cli_usage(c, "invalid --accuracy value: \"%s\" (not a number)", optarg);
			break;
		case 'R':
			if (!parse_double(optarg, &o.rmse))
				rc = cli_usage(c, "invalid --rmse value: \"%s\" (not a number)", optarg);
			break;
		case '2':
			if (!parse_double(optarg, &o.r2))
				rc = cli_usage(c, "invalid --r2 value: \"%s\" (not a number)", optarg);
			break;
		case 'm': rc = add_kv(c, metrics, "--metric", optarg, true); break;
		case 'p': rc = add_kv(c, params, "--param", optarg, false); break;
		case 'P': o.production = 1; break;
		case 'W': o.reason = optarg; break;
		case 'z':
			o.compress_level = 1;
			if (optarg) {
				if (!parse_uint(optarg, 9, &lvl) || lvl == 0)
					rc = cli_usage(c, "invalid --compress value: \"%s\" (1-9)", optarg);
				else
					o.compress_level = (int)lvl;
			}
			break;
		case 'q': c->quiet = true; break;
		case 'h': fputs(PUSH_HELP, stdout); goto out;
		default: rc = cli_usage(c, "unknown option"); break;
		}
	}
	if (rc)
		goto out;
	if (optind >= argc) {
		rc = cli_usage(c, "no model file given");
		goto out;
	}
	if (o.model_version && (rc = check_selector(c, o.model_version, false)) != 0)
		goto out;
	src = calloc((size_t)(argc - optind), sizeof *src);
	if (src == NULL) {
		rc = cli_fail(c, MS_ENOMEM, "out of memory");
		goto out;
	}
	for (i = optind; i < argc; i++) {
		char *eq = strchr(argv[i], '=');
		ms_artifact_source *a = &src[nsrc++];
		if (eq) {
			*eq = '\0';
			if (ms_name_check(argv[i]) == MS_OK) {
				a->name = argv[i];
				a->path = eq + 1;
				continue;
			}
			*eq = '=';
		}
		a->path = argv[i];
		if (nsrc > 1) {
			rc = cli_usage(c, "give extra artifacts as NAME=FILE: \"%s\"", argv[i]);
			goto out;
		}
	}
	/* Bad files are reported before any connection is made. */
	for (size_t k = 0; k < nsrc; k++) {
		struct stat sb;
		if (stat(src[k].path, &sb) != 0) {
			rc = cli_fail(c, errno == ENOENT ? MS_ENOTFOUND : MS_EIO,
			              "%s: %s", src[k].path, strerror(errno));
			goto out;
		}
		if (S_ISDIR(sb.st_mode)) {
			rc = cli_usage(c, "%s: is a directory, not a model file",
			               src[k].path);
			goto out;
		}
		if (access(src[k].path, R_OK) != 0) {
			rc = cli_fail(c, MS_EIO, "%s: cannot read: %s", src[k].path,
			              strerror(errno));
			goto out;
		}
	}
	mtext = json_dumps(metrics, JSON_COMPACT);
	ptext = json_dumps(params, JSON_COMPACT);
	o.metrics_json = mtext;
	o.params_json = ptext;
	o.progress = cli_progress;
	o.progress_payload = c;
	if ((rc = cli_open_store(c, &s, true)) != 0)
		goto out;
	st = ms_store_push(s, &version, &o, src, nsrc);
	cli_progress_end(c);
	if (st != MS_OK) {
		rc = cli_fail(c, st, "%s", ms_store_errmsg(s));
		goto out;
	}
	if (c->json) {
		ms_artifact_info info;
		if (ms_store_show(s, &info, c->name, version.ptr, NULL) == MS_OK) {
			json_t *j = info_json(&info);
			json_object_set_new(j, "artifacts", json_integer((json_int_t)nsrc));
			cli_print_json(j);
			ms_artifact_info_dispose(&info);
		} else {
			cli_print_json(json_pack("{s:s,s:s}", "model_name", c->name,
			                         "model_version", version.ptr));
		}
	} else {
		printf("%s\n", version.ptr);
	}
out:
	ms_store_close(s);
	ms_buf_dispose(&version);
	free(src);
	free(mtext);
	free(ptext);
	json_decref(metrics);
	json_decref(params);
	return rc;
}

static const char PULL_HELP[] =
	"usage: modelstore pull VERSION|production|latest -o FILE [options]\n"
	"\n"
	"Fetch an artifact's bytes.  The SHA-256 is verified before the file\n"
	"appears: it is written to a temp file beside FILE and renamed.\n"
	"\n"
	"  -o, --output FILE    where to write; \"-\" for stdout\n"
	"  --artifact NAME      artifact of the version (default: model)\n"
	"  --force              replace FILE if it exists\n"
	"  -q, --quiet          no progress\n";

static ms_status write_stdout(void *p, const void *d, size_t n)
{
	(void)p;
	return fwrite(d, 1, n, stdout) == n ? MS_OK : MS_EIO;
}

static int cmd_pull(cli *c, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "output", required_argument, NULL, 'o' },
		{ "artifact", required_argument, NULL, 'a' },
		{ "force", no_argument, NULL, 'f' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	const char *out = NULL, *artifact = NULL, *sel;
	int force = 0, opt, rc;
	ms_store *s = NULL;
	ms_artifact_info info;
	ms_status st;

	optind = 0;
	while ((opt = getopt_long(argc, argv, "o:fqh", longopts, NULL)) != -1) {
		switch (opt) {
		case 'o': out = optarg; break;
		case 'a': artifact = optarg; break;
		case 'f': force = 1; break;
		case 'q': c->quiet = true; break;
		case 'h': fputs(PULL_HELP, stdout); return 0;
		default: return cli_usage(c, "unknown option");
		}
	}
	if (optind != argc - 1)
		return cli_usage(c, "expected one VERSION, \"production\" or \"latest\"");
	sel = argv[optind];
	if ((rc = check_selector(c, sel, true)) != 0)
		return rc;
	if (out == NULL) {
		if (isatty(1))
			return cli_usage(c, "refusing to write model bytes to a terminal; use -o FILE or -o -");
		return cli_usage(c, "no output given: use -o FILE or -o -");
	}
	if ((rc = cli_open_store(c, &s, true)) != 0)
		return rc;
	memset(&info, 0, sizeof info);
	if (strcmp(out, "-") == 0) {
		st = ms_store_pull(s, &info, c->name, sel, artifact, write_stdout,
		                   NULL, NULL, NULL);
		if (fflush(stdout) != 0 && st == MS_OK)
			st = MS_EIO;
	} else {
		st = ms_store_pull_file(s, &info, c->name, sel, artifact, out, force,
		                        cli_progress, c);
		cli_progress_end(c);
	}
	if (st != MS_OK) {
		rc = cli_fail(c, st, "%s", st == MS_EIO && strcmp(out, "-") == 0
		                               ? "write to stdout failed"
		                               : ms_store_errmsg(s));
	} else if (strcmp(out, "-") != 0) {
		if (c->json) {
			json_t *j = info_json(&info);
			json_object_set_new(j, "output", json_string(out));
			cli_print_json(j);
		} else {
			printf("%s %s (%lld bytes, sha256 %s) -> %s\n", info.model_name,
			       info.model_version, (long long)info.size,
			       info.sha256[0] ? info.sha256 : "none recorded", out);
		}
	}
	ms_artifact_info_dispose(&info);
	ms_store_close(s);
	return rc;
}

static int cmd_list(cli *c, int argc, char **argv, bool name_given)
{
	static const struct option longopts[] = {
		{ "limit", required_argument, NULL, 'l' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	unsigned long long limit = 0;
	ms_artifact_info *list = NULL;
	size_t n = 0, i;
	ms_store *s;
	int opt, rc;
	ms_status st;

	optind = 0;
	while ((opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (opt) {
		case 'l':
			if (!parse_uint(optarg, 1000000000ull, &limit))
				return cli_usage(c, "invalid --limit value: \"%s\"", optarg);
			break;
		case 'h':
			puts("usage: modelstore [--name NAME] list [--limit N]\n\n"
			     "List stored versions, newest first (every model name unless\n"
			     "--name is given).  `*` marks the production version.");
			return 0;
		default: return cli_usage(c, "unknown option");
		}
	}
	if (optind < argc)
		return cli_usage(c, "unexpected argument \"%s\"", argv[optind]);
	if ((rc = cli_open_store(c, &s, true)) != 0)
		return rc;
	st = ms_store_list(s, &list, &n, name_given ? c->name : NULL, (size_t)limit);
	if (st != MS_OK) {
		rc = cli_fail(c, st, "%s", ms_store_errmsg(s));
		ms_store_close(s);
		return rc;
	}
	if (c->json) {
		json_t *arr = json_array();
		for (i = 0; i < n; i++)
			json_array_append_new(arr, info_json(&list[i]));
		cli_print_json(arr);
	} else {
		printf("%-1s %-20s %-22s %-16s %10s %8s %8s %8s  %-12s %s\n", "",
		       "NAME", "VERSION", "TYPE", "SIZE", "ACC", "RMSE", "R2",
		       "SHA256", "CREATED");
		for (i = 0; i < n; i++) {
			char sz[32], a[16], r[16], r2[16];
			cli_fmt_size(sz, sizeof sz, list[i].size);
			fmt_metric(a, sizeof a, list[i].accuracy);
			fmt_metric(r, sizeof r, list[i].rmse);
			fmt_metric(r2, sizeof r2, list[i].r2);
			printf("%-1s %-20s %-22s %-16s %10s %8s %8s %8s  %-12.12s %s\n",
			       list[i].is_production ? "*" : "", list[i].model_name,
			       list[i].model_version, list[i].model_type, sz, a, r, r2,
			       list[i].sha256[0] ? list[i].sha256 : "(none)",
			       list[i].created_at);
		}
	}
	ms_artifact_list_free(list, n);
	ms_store_close(s);
	return 0;
}

static int cmd_show(cli *c, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "artifact", required_argument, NULL, 'a' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	const char *artifact = NULL;
	ms_artifact_info info;
	ms_store *s;
	int opt, rc;
	ms_status st;

	optind = 0;
	while ((opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (opt) {
		case 'a': artifact = optarg; break;
		case 'h':
			puts("usage: modelstore show VERSION|production|latest [--artifact NAME]\n\n"
			     "Print the metadata of one stored artifact.");
			return 0;
		default: return cli_usage(c, "unknown option");
		}
	}
	if (optind != argc - 1)
		return cli_usage(c, "expected one VERSION, \"production\" or \"latest\"");
	if ((rc = check_selector(c, argv[optind], true)) != 0)
		return rc;
	if ((rc = cli_open_store(c, &s, true)) != 0)
		return rc;
	st = ms_store_show(s, &info, c->name, argv[optind], artifact);
	if (st != MS_OK) {
		rc = cli_fail(c, st, "%s", ms_store_errmsg(s));
		ms_store_close(s);
		return rc;
	}
	if (c->json) {
		cli_print_json(info_json(&info));
	} else {
		char sz[32], ssz[32];
		cli_fmt_size(sz, sizeof sz, info.size);
		cli_fmt_size(ssz, sizeof ssz, info.stored_size);
		printf("model_name:     %s\nmodel_version:  %s\nartifact:       %s\n"
		       "run_id:         %s\nmodel_type:     %s\nis_production:  %s\n"
		       "size:           %s (%lld bytes)\nstored:         %s, %s, %s\n"
		       "sha256:         %s\naccuracy_score: %g\nrmse_score:     %g\n"
		       "r2_score:       %g\nmetrics:        %s\nparams:         %s\n"
		       "created_at:     %s\n",
		       info.model_name, info.model_version, info.artifact, info.run_id,
		       info.model_type, info.is_production ? "yes" : "no", sz,
		       (long long)info.size, ssz, info.compression,
		       info.chunk_count ? "chunked" : "inline",
		       info.sha256[0] ? info.sha256 : "(none recorded)", info.accuracy,
		       info.rmse, info.r2, info.metrics_json, info.params_json,
		       info.created_at);
	}
	ms_artifact_info_dispose(&info);
	ms_store_close(s);
	return 0;
}

static int cmd_promote_or_rollback(cli *c, int argc, char **argv, bool promote)
{
	static const struct option longopts[] = {
		{ "reason", required_argument, NULL, 'r' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	const char *reason = NULL;
	ms_buf to = MS_BUF_INIT;
	ms_store *s;
	int opt, rc;
	ms_status st;

	optind = 0;
	while ((opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (opt) {
		case 'r': reason = optarg; break;
		case 'h':
			puts(promote
			     ? "usage: modelstore promote VERSION [--reason TEXT]\n\n"
			       "Make VERSION the production model of --name.  Recorded in\n"
			       "model_promotions; watching loaders swap within milliseconds."
			     : "usage: modelstore rollback [--reason TEXT]\n\n"
			       "Return production to the version that preceded the current\n"
			       "one in the promotion history.  Repeat to go further back.");
			return 0;
		default: return cli_usage(c, "unknown option");
		}
	}
	if (promote && optind != argc - 1)
		return cli_usage(c, "expected one VERSION");
	if (!promote && optind != argc)
		return cli_usage(c, "unexpected argument \"%s\"", argv[optind]);
	if (promote && (rc = check_selector(c, argv[optind], false)) != 0)
		return rc;
	if ((rc = cli_open_store(c, &s, true)) != 0)
		return rc;
	if (promote)
		st = ms_store_promote(s, c->name, argv[optind], reason);
	else
		st = ms_store_rollback(s, &to, c->name, reason);
	if (st != MS_OK) {
		rc = cli_fail(c, st, "%s", ms_store_errmsg(s));
	} else {
		const char *v = promote ? argv[optind] : to.ptr;
		if (c->json)
			cli_print_json(json_pack("{s:s,s:s}", "model_name", c->name,
			                         "model_version", v));
		else
			printf("%s: production is now %s\n", c->name, v);
	}
	ms_buf_dispose(&to);
	ms_store_close(s);
	return rc;
}

static int cmd_export(cli *c, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "dir", required_argument, NULL, 'd' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	const char *dir = c->fallback_dir, *sel = "production";
	ms_artifact_info info;
	ms_store *s;
	int opt, rc;
	ms_status st;

	optind = 0;
	while ((opt = getopt_long(argc, argv, "qh", longopts, NULL)) != -1) {
		switch (opt) {
		case 'd': dir = optarg; break;
		case 'q': c->quiet = true; break;
		case 'h':
			puts("usage: modelstore export [--dir D] [VERSION|production|latest]\n\n"
			     "Write the model (default: production) as the fallback copy\n"
			     "D/production[/NAME]/model.bin plus its model.json sidecar,\n"
			     "atomically.  D defaults to --fallback-dir (models).");
			return 0;
		default: return cli_usage(c, "unknown option");
		}
	}
	if (optind < argc - 1)
		return cli_usage(c, "unexpected argument \"%s\"", argv[optind + 1]);
	if (optind == argc - 1)
		sel = argv[optind];
	if ((rc = check_selector(c, sel, true)) != 0)
		return rc;
	if ((rc = cli_open_store(c, &s, true)) != 0)
		return rc;
	memset(&info, 0, sizeof info);
	st = ms_store_export(s, &info, c->name, sel, dir, cli_progress, c);
	cli_progress_end(c);
	if (st != MS_OK) {
		rc = cli_fail(c, st, "%s", ms_store_errmsg(s));
	} else if (c->json) {
		json_t *j = info_json(&info);
		json_object_set_new(j, "dir", json_string(dir));
		cli_print_json(j);
	} else {
		printf("%s %s (%lld bytes, sha256 %s) exported under %s\n",
		       info.model_name, info.model_version, (long long)info.size,
		       info.sha256, dir);
	}
	ms_artifact_info_dispose(&info);
	ms_store_close(s);
	return rc;
}

static int cmd_prune(cli *c, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "keep", required_argument, NULL, 'k' },
		{ "dry-run", no_argument, NULL, 'n' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	unsigned long long keep = 0;
	bool have_keep = false;
	int dry = 0, opt, rc;
	ms_buf deleted = MS_BUF_INIT;
	ms_store *s;
	ms_status st;

	optind = 0;
	while ((opt = getopt_long(argc, argv, "nh", longopts, NULL)) != -1) {
		switch (opt) {
		case 'k':
			if (!parse_uint(optarg, 1000000ull, &keep))
				return cli_usage(c, "invalid --keep value: \"%s\"", optarg);
			have_keep = true;
			break;
		case 'n': dry = 1; break;
		case 'h':
			puts("usage: modelstore prune --keep N [--dry-run]\n\n"
			     "Delete all but the N newest versions of --name.  The production\n"
			     "version is never deleted.");
			return 0;
		default: return cli_usage(c, "unknown option");
		}
	}
	if (!have_keep)
		return cli_usage(c, "--keep N is required");
	if (optind < argc)
		return cli_usage(c, "unexpected argument \"%s\"", argv[optind]);
	if ((rc = cli_open_store(c, &s, true)) != 0)
		return rc;
	st = ms_store_prune(s, &deleted, c->name, (unsigned)keep, dry);
	if (st != MS_OK) {
		rc = cli_fail(c, st, "%s", ms_store_errmsg(s));
	} else {
		json_t *arr = json_loads(deleted.ptr, 0, NULL);
		if (c->json) {
			cli_print_json(json_pack("{s:s,s:b,s:o}", "model_name", c->name,
			                         "dry_run", dry, dry ? "would_delete" : "deleted",
			                         arr ? arr : json_array()));
		} else {
			size_t i;
			json_t *v;
			printf("%s %zu version%s of %s\n", dry ? "would delete" : "deleted",
			       json_array_size(arr), json_array_size(arr) == 1 ? "" : "s",
			       c->name);
			json_array_foreach(arr, i, v)
				printf("  %s\n", json_string_value(v));
			json_decref(arr);
		}
	}
	ms_buf_dispose(&deleted);
	ms_store_close(s);
	return rc;
}

typedef struct verify_out {
	const cli *c;
	json_t *arr;
} verify_out;

static void verify_cb(void *p, const ms_artifact_info *info, ms_status r,
                      const char *actual)
{
	verify_out *v = p;
	if (g_progress.shown) /* clear the progress line first */
		fputs("\r\033[K", stderr);
	const char *state = r == MS_OK ? (info->sha256[0] ? "ok" : "unverified")
	                               : "MISMATCH";
	if (v->c->json) {
		json_array_append_new(v->arr,
			json_pack("{s:s,s:s,s:s,s:s,s:s?,s:s}", "model_name",
			          info->model_name, "model_version", info->model_version,
			          "artifact", info->artifact, "status", state,
			          "sha256", info->sha256[0] ? info->sha256 : NULL,
			          "actual_sha256", actual));
	} else {
		printf("%-10s %s %s %s%s%s\n", state, info->model_name,
		       info->model_version, info->artifact,
		       r == MS_OK && !info->sha256[0] ? " (no recorded hash; bytes hash to " : "",
		       r == MS_OK && !info->sha256[0] ? actual : "");
		if (r == MS_OK && !info->sha256[0])
			printf("\b)\n");
	}
}

static int cmd_verify(cli *c, int argc, char **argv, bool name_given)
{
	verify_out v = { c, json_array() };
	size_t checked = 0, bad = 0;
	ms_store *s;
	int rc;
	ms_status st;

	bool backfill = false;
	size_t filled = 0;
	if (cli_wants_help(argc, argv)) {
		puts("usage: modelstore [--name NAME] verify [--backfill]\n\n"
		     "Re-hash every stored artifact (of --name, or all), streaming, and\n"
		     "compare with the recorded SHA-256.  Exit 5 if any mismatch.\n"
		     "--backfill first records the hash of rows that have none\n"
		     "(rows written the seed's way).");
		json_decref(v.arr);
		return 0;
	}
	if (argc == 2 && strcmp(argv[1], "--backfill") == 0)
		backfill = true;
	else if (argc > 1) {
		json_decref(v.arr);
		return cli_usage(c, "unexpected argument \"%s\"", argv[1]);
	}
	if ((rc = cli_open_store(c, &s, true)) != 0) {
		json_decref(v.arr);
		return rc;
	}
	ms_store_set_progress(s, cli_progress, c);
	if (backfill) {
		st = ms_store_backfill_hashes(s, name_given ? c->name : NULL, &filled);
		if (st != MS_OK) {
			rc = cli_fail(c, st, "%s", ms_store_errmsg(s));
			json_decref(v.arr);
			ms_store_close(s);
			return rc;
		}
		if (!c->json)
			printf("recorded a SHA-256 for %zu artifact%s that had none\n",
			       filled, filled == 1 ? "" : "s");
	}
	st = ms_store_verify(s, name_given ? c->name : NULL, verify_cb, &v,
	                     &checked, &bad);
	cli_progress_end(c);
	if (st != MS_OK && st != MS_EINTEGRITY) {
		rc = cli_fail(c, st, "%s", ms_store_errmsg(s));
		json_decref(v.arr);
	} else {
		if (c->json)
			cli_print_json(json_pack("{s:i,s:i,s:i,s:o}", "checked", (int)checked,
			                         "mismatched", (int)bad, "backfilled", (int)filled,
			                         "artifacts", v.arr));
		else {
			json_decref(v.arr);
			printf("checked %zu artifact%s, %zu mismatched\n", checked,
			       checked == 1 ? "" : "s", bad);
		}
		if (st == MS_EINTEGRITY)
			rc = cli_fail(c, st, "%s", ms_store_errmsg(s));
	}
	ms_store_close(s);
	return rc;
}

static int cmd_doctor(cli *c, int argc, char **argv)
{
	ms_store_options o;
	ms_store *s = NULL;
	ms_status st;
	int dbv = 0, libv = 0, problems = 0, rc = 0;
	json_t *checks = json_array();
	char path[PATH_MAX];
	struct stat sb;

#define CHECK(ok, name, fmt, ...) do { \
		char m_[PATH_MAX + 256]; snprintf(m_, sizeof m_, fmt, __VA_ARGS__); \
		if (!(ok)) problems++; \
		if (c->json) json_array_append_new(checks, json_pack("{s:s,s:b,s:s}", \
			"check", name, "ok", (int)(ok), "detail", m_)); \
		else printf("%-4s %-10s %s\n", (ok) ? "ok" : "FAIL", name, m_); \
	} while (0)

	if (cli_wants_help(argc, argv)) {
		puts("usage: modelstore doctor\n\n"
		     "Check the connection, the schema version, the production model\n"
		     "and its fallback copy.  Exit 4 when the database is unreachable,\n"
		     "1 when any other check fails.");
		json_decref(checks);
		return 0;
	}
	ms_store_options_init(&o, MS_STORE_OPTIONS_VERSION);
	o.check_schema = 0;
	st = ms_store_open(&s, c->db, &o);
	CHECK(st == MS_OK, "database", "%s", st == MS_OK ? ms_store_target(s)
	                                                 : ms_store_errmsg(s));
	if (st == MS_OK) {
		ms_artifact_info info;
		st = ms_store_schema_version(s, &dbv, &libv);
		CHECK(st == MS_OK && dbv == libv, "schema",
		      "database at version %d, library knows %d%s", dbv, libv,
		      dbv < libv ? " (run `modelstore migrate`)" : "");
		if (dbv == libv) {
			st = ms_store_show(s, &info, c->name, "production", NULL);
			CHECK(st == MS_OK, "production", "%s",
			      st == MS_OK ? info.model_version : ms_store_errmsg(s));
			if (st == MS_OK)
				ms_artifact_info_dispose(&info);
		}
	} else {
		rc = EXIT_UNREACHABLE;
	}
	snprintf(path, sizeof path, "%s/production/%s%smodel.bin", c->fallback_dir,
	         strcmp(c->name, MS_DEFAULT_NAME) ? c->name : "",
	         strcmp(c->name, MS_DEFAULT_NAME) ? "/" : "");
	CHECK(stat(path, &sb) == 0, "fallback", "%s %s", path,
	      stat(path, &sb) == 0 ? "present" : "missing (run `modelstore export`)");
	ms_store_close(s);
	if (c->json)
		cli_print_json(json_pack("{s:o,s:i}", "checks", checks, "problems",
		                         problems));
	else
		json_decref(checks);
	if (rc == 0 && problems)
		rc = EXIT_ERROR_;
	return rc;
#undef CHECK
}

/* ------------------------------------------------------------------ */
/* dispatch                                                            */
/* ------------------------------------------------------------------ */

typedef struct command {
	const char *name;
	int (*fn)(cli *c, int argc, char **argv, bool name_given);
	const char *summary;
} command;

#define WRAP(f) \
	static int w_##f(cli *c, int argc, char **argv, bool ng) \
	{ (void)ng; return f(c, argc, argv); }
WRAP(cmd_migrate)
WRAP(cmd_push)
WRAP(cmd_pull)
WRAP(cmd_show)
WRAP(cmd_export)
WRAP(cmd_prune)
WRAP(cmd_doctor)
WRAP(cmd_load)
WRAP(cmd_predictions)
WRAP(cmd_report)
static int w_promote(cli *c, int argc, char **argv, bool ng)
{ (void)ng; return cmd_promote_or_rollback(c, argc, argv, true); }
static int w_rollback(cli *c, int argc, char **argv, bool ng)
{ (void)ng; return cmd_promote_or_rollback(c, argc, argv, false); }

static const command commands[] = {
	{ "migrate", w_cmd_migrate, "apply pending schema migrations" },
	{ "push", w_cmd_push, "store a model file (prints its version)" },
	{ "pull", w_cmd_pull, "fetch VERSION|production|latest into a file" },
	{ "load", w_cmd_load, "show what a loader would serve now (--watch)" },
	{ "list", cmd_list, "list stored versions" },
	{ "show", w_cmd_show, "show one version's metadata" },
	{ "promote", w_promote, "make a version the production model" },
	{ "rollback", w_rollback, "return to the previous production model" },
	{ "export", w_cmd_export, "write the fallback copy atomically" },
	{ "prune", w_cmd_prune, "delete old versions, keeping N and production" },
	{ "verify", cmd_verify, "re-hash stored artifacts" },
	{ "predictions", w_cmd_predictions, "import predictions, record actuals" },
	{ "report", w_cmd_report, "per-version prediction report (--html)" },
	{ "doctor", w_cmd_doctor, "check connection, schema, fallback" },
	{ NULL, NULL, NULL }
};

static void usage(FILE *f)
{
	fputs("usage: modelstore [--db URL] [--json] [--name NAME] "
	      "[--fallback-dir DIR] <command> [args]\n\n"
	      "Model binaries in PostgreSQL, served with cache and fallback.\n\n"
	      "Global options:\n"
	      "  --db URL            database (default: $DATABASE_URL, else libpq's\n"
	      "                      PGHOST/PGPORT/service files/.pgpass)\n"
	      "  --json              one JSON document on stdout; errors as JSON\n"
	      "  --name NAME         model name (default: default)\n"
	      "  --fallback-dir DIR  fallback directory (default: models)\n"
	      "  -q, --quiet         no progress output\n"
	      "  --version           print the version\n\n"
	      "Commands:\n", f);
	for (const command *k = commands; k->name; k++)
		fprintf(f, "  %-12s %s\n", k->name, k->summary);
	fputs("\nExit codes: 0 ok, 1 error, 2 usage, 3 not found, "
	      "4 database unreachable, 5 integrity failure.\n"
	      "Run `modelstore COMMAND --help` for a command's options.\n", f);
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "db", required_argument, NULL, 'd' },
		{ "json", no_argument, NULL, 'j' },
		{ "name", required_argument, NULL, 'n' },
		{ "fallback-dir", required_argument, NULL, 'f' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 }
	};
	cli c = { 0 };
	bool name_given = false;
	int opt;

	c.db = getenv("DATABASE_URL");
	c.name = MS_DEFAULT_NAME;
	c.fallback_dir = "models";
	while ((opt = getopt_long(argc, argv, "+qh", longopts, NULL)) != -1) {
		switch (opt) {
		case 'd': c.db = optarg; break;
		case 'j': c.json = true; break;
		case 'n': c.name = optarg; name_given = true; break;
		case 'f': c.fallback_dir = optarg; break;
		case 'q': c.quiet = true; break;
		case 'h': usage(stdout); return 0;
		case 'V': printf("modelstore %s\n", ms_version()); return 0;
		default: usage(stderr); return EXIT_USAGE;
		}
	}
	if (optind >= argc) {
		usage(stderr);
		return EXIT_USAGE;
	}
	if (ms_name_check(c.name) != MS_OK) {
		c.command = argv[optind];
		return cli_usage(&c, "invalid --name value: \"%.*s\" (use 1-%d of "
		                 "A-Z a-z 0-9 . _ -)", MS_NAME_MAX, c.name, MS_NAME_MAX);
	}
	if (c.fallback_dir[0] == '\0')
		return cli_usage(&c, "invalid --fallback-dir value: \"\"");
	for (const command *k = commands; k->name; k++) {
		if (strcmp(k->name, argv[optind]) == 0) {
			c.command = k->name;
			return k->fn(&c, argc - optind, argv + optind, name_given);
		}
	}
	fprintf(stderr, "modelstore: unknown command \"%s\" (see `modelstore --help`)\n",
	        argv[optind]);
	return EXIT_USAGE;
}
