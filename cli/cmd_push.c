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
		if (!cli_parse_double(eq + 1, &v))
			return cli_usage(c, "invalid %s value: \"%s\" (not a number)",
			                 opt, arg);
		val = json_real(v);
	} else if (cli_parse_double(eq + 1, &v)) {
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

int cmd_push(cli *c, int argc, char **argv)
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
			if (!cli_parse_double(optarg, &o.accuracy))
				rc = cli_usage(c, "invalid --accuracy value: \"%s\" (not a number)", optarg);
			break;
		case 'R':
			if (!cli_parse_double(optarg, &o.rmse))
				rc = cli_usage(c, "invalid --rmse value: \"%s\" (not a number)", optarg);
			break;
		case '2':
			if (!cli_parse_double(optarg, &o.r2))
				rc = cli_usage(c, "invalid --r2 value: \"%s\" (not a number)", optarg);
			break;
		case 'm': rc = add_kv(c, metrics, "--metric", optarg, true); break;
		case 'p': rc = add_kv(c, params, "--param", optarg, false); break;
		case 'P': o.production = 1; break;
		case 'W': o.reason = optarg; break;
		case 'z':
			o.compress_level = 1;
			if (optarg) {
				if (!cli_parse_uint(optarg, 9, &lvl) || lvl == 0)
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
	if (o.model_version && (rc = cli_check_selector(c, o.model_version, false)) != 0)
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
			json_t *j = cli_info_json(&info);
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
