/*
 * cmd_registry.c - the registry commands after push: pull, list, show,
 * promote, rollback, export, prune and verify.
 */
#define _GNU_SOURCE
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

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

int cmd_pull(cli *c, int argc, char **argv)
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
	ms_artifact_info info = MS_ARTIFACT_INFO_INIT;
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
	if ((rc = cli_check_selector(c, sel, true)) != 0)
		return rc;
	if (out == NULL) {
		if (isatty(1))
			return cli_usage(c, "refusing to write model bytes to a terminal; use -o FILE or -o -");
		return cli_usage(c, "no output given: use -o FILE or -o -");
	}
	if ((rc = cli_open_store(c, &s, true)) != 0)
		return rc;
	if (strcmp(out, "-") == 0) {
		st = ms_store_pull(&info, s, c->name, sel, artifact, write_stdout,
		                   NULL, NULL, NULL);
		if (fflush(stdout) != 0 && st == MS_OK)
			st = MS_EIO;
	} else {
		st = ms_store_pull_file(&info, s, c->name, sel, artifact, out, force,
		                        cli_progress, c);
		cli_progress_end(c);
	}
	if (st != MS_OK) {
		rc = cli_fail(c, st, "%s", st == MS_EIO && strcmp(out, "-") == 0
		                               ? "write to stdout failed"
		                               : ms_store_errmsg(s));
	} else if (strcmp(out, "-") != 0) {
		if (c->json) {
			json_t *j = cli_info_json(&info);
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

int cmd_list(cli *c, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "limit", required_argument, NULL, 'l' },
		{ "sort", required_argument, NULL, 's' },
		{ "desc", no_argument, NULL, 'D' },
		{ "where", required_argument, NULL, 'w' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	ms_list_options lo = MS_LIST_OPTIONS_INIT;
	unsigned long long limit = 0;
	ms_artifact_list *list = NULL;
	size_t n, i;
	ms_store *s;
	int opt, rc;
	ms_status st;

	optind = 0;
	while ((opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (opt) {
		case 'l':
			if (!cli_parse_uint(optarg, 1000000000ull, &limit))
				return cli_usage(c, "invalid --limit value: \"%s\"", optarg);
			break;
		case 's':
			if (ms_metric_name_check(optarg) != MS_OK)
				return cli_usage(c, "invalid --sort value: \"%.*s\" (a "
				                 "metric name: 1-%d of A-Z a-z 0-9 _ . - /, "
				                 "starting with a letter or _)",
				                 MS_METRIC_MAX + 8, optarg, MS_METRIC_MAX);
			lo.sort = optarg;
			break;
		case 'D': lo.descending = 1; break;
		case 'w': lo.where = optarg; break;
		case 'h':
			puts("usage: modelstore [--name NAME] list [--limit N] "
			     "[--sort METRIC [--desc]] [--where EXPR]\n\n"
			     "List stored versions, newest first (every model name unless\n"
			     "--name is given).  `*` marks the production version.\n\n"
			     "  --sort METRIC   by a metric's value (lowest first; versions\n"
			     "                  without it last)\n"
			     "  --desc          highest first\n"
			     "  --where EXPR    only versions whose metrics match, e.g.\n"
			     "                  'accuracy >= 0.9 and rmse < 0.2'\n"
			     "                  (METRIC op NUMBER joined by `and`; op one of\n"
			     "                  >= <= > < = !=; see docs/cli.md)");
			return 0;
		default: return cli_usage(c, "unknown option");
		}
	}
	if (optind < argc)
		return cli_usage(c, "unexpected argument \"%s\"", argv[optind]);
	if (lo.descending && lo.sort == NULL)
		return cli_usage(c, "--desc needs --sort METRIC");
	if (lo.where) {
		ms_buf why = MS_BUF_INIT;
		if (ms_list_where_check(&why, lo.where) != MS_OK) {
			rc = cli_usage(c, "--where: %s", why.ptr ? why.ptr
			                                         : "out of memory");
			ms_buf_dispose(&why);
			return rc;
		}
	}
	if ((rc = cli_open_store(c, &s, true)) != 0)
		return rc;
	lo.model_name = c->name_given ? c->name : NULL;
	lo.limit = (size_t)limit;
	st = ms_store_list_versions(&list, s, &lo);
	if (st != MS_OK) {
		rc = cli_fail(c, st, "%s", ms_store_errmsg(s));
		ms_store_close(s);
		return rc;
	}
	n = ms_artifact_list_count(list);
	if (c->json) {
		json_t *arr = json_array();
		for (i = 0; i < n; i++) {
			const ms_artifact_info *in = ms_artifact_list_get(list, i);
			json_array_append_new(arr, cli_info_json(in));
		}
		cli_print_json(arr);
	} else {
		printf("%-1s %-20s %-22s %-16s %10s %8s %8s %8s  %-12s %s\n", "",
		       "NAME", "VERSION", "TYPE", "SIZE", "ACC", "RMSE", "R2",
		       "SHA256", "CREATED");
		for (i = 0; i < n; i++) {
			const ms_artifact_info *in = ms_artifact_list_get(list, i);
			char sz[32], a[16], r[16], r2[16], ty[4 * MS_TYPE_MAX + 1];
			cli_fmt_size(sz, sizeof sz, in->size);
			cli_fmt_metric(a, sizeof a, in->accuracy);
			cli_fmt_metric(r, sizeof r, in->rmse);
			cli_fmt_metric(r2, sizeof r2, in->r2);
			printf("%-1s %-20s %-22s %-16s %10s %8s %8s %8s  %-12.12s %s\n",
			       in->is_production ? "*" : "", in->model_name,
			       in->model_version,
			       cli_safe(ty, sizeof ty, in->model_type), sz, a, r, r2,
			       in->sha256[0] ? in->sha256 : "(none)", in->created_at);
		}
	}
	ms_artifact_list_free(list);
	ms_store_close(s);
	return 0;
}

/* show: "metric history:" then one line per metric, its latest value
 * and how many points it has. */
static void print_metric_history(json_t *metrics)
{
	const char *k;
	json_t *m;
	printf("metric history:%s\n", json_object_size(metrics) ? "" : " (none)");
	json_object_foreach(metrics, k, m) {
		char v[32], name[4 * MS_METRIC_MAX + 1];
		json_int_t n = json_integer_value(json_object_get(m, "count"));
		json_t *last = json_object_get(m, "last");
		cli_fmt_metric(v, sizeof v, json_is_number(last)
		                            ? json_number_value(last) : NAN);
		printf("  %-24s %-12s (%lld point%s)\n",
		       cli_safe(name, sizeof name, k), v, (long long)n,
		       n == 1 ? "" : "s");
	}
}

int cmd_show(cli *c, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "artifact", required_argument, NULL, 'a' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	const char *artifact = NULL;
	ms_artifact_info info = MS_ARTIFACT_INFO_INIT;
	ms_buf hist = MS_BUF_INIT;
	json_t *history = NULL;
	ms_store *s;
	int opt, rc;
	ms_status st;

	optind = 0;
	while ((opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (opt) {
		case 'a': artifact = optarg; break;
		case 'h':
			puts("usage: modelstore show VERSION|production|latest|@ALIAS [--artifact NAME]\n\n"
			     "Print the metadata of one stored artifact, and the latest value\n"
			     "of each metric of its version with how many points it has.");
			return 0;
		default: return cli_usage(c, "unknown option");
		}
	}
	if (optind != argc - 1)
		return cli_usage(c, "expected one VERSION, \"production\" or \"latest\"");
	if ((rc = cli_check_selector(c, argv[optind], true)) != 0)
		return rc;
	if ((rc = cli_open_store(c, &s, true)) != 0)
		return rc;
	st = ms_store_show(&info, s, c->name, argv[optind], artifact);
	if (st != MS_OK) {
		rc = cli_fail(c, st, "%s", ms_store_errmsg(s));
		ms_store_close(s);
		return rc;
	}
	/* the metric history of the version shown (not of the selector,
	 * which may have moved since) */
	st = ms_store_version_metrics(&hist, s, c->name, info.model_version);
	if (st == MS_OK)
		history = json_loads(hist.ptr, 0, NULL);
	ms_buf_dispose(&hist);
	if (st != MS_OK || history == NULL) {
		rc = cli_fail(c, st != MS_OK ? st : MS_ENOMEM, "%s",
		              st != MS_OK ? ms_store_errmsg(s) : "out of memory");
		ms_artifact_info_dispose(&info);
		ms_store_close(s);
		return rc;
	}
	if (c->json) {
		json_t *j = cli_info_json(&info);
		json_object_set(j, "metric_history",
		                json_object_get(history, "metrics"));
		cli_print_json(j);
	} else {
		char sz[32], ssz[32], acc[16], rmse[16], r2[16];
		char run[4 * MS_RUN_ID_MAX + 1], ty[4 * MS_TYPE_MAX + 1];
		cli_fmt_size(sz, sizeof sz, info.size);
		cli_fmt_size(ssz, sizeof ssz, info.stored_size);
		cli_fmt_metric(acc, sizeof acc, info.accuracy);
		cli_fmt_metric(rmse, sizeof rmse, info.rmse);
		cli_fmt_metric(r2, sizeof r2, info.r2);
		printf("model_name:     %s\nmodel_version:  %s\nartifact:       %s\n"
		       "run_id:         %s\nmodel_type:     %s\nis_production:  %s\n"
		       "size:           %s (%lld bytes)\nstored:         %s, %s, %s\n"
		       "sha256:         %s\naccuracy_score: %s\nrmse_score:     %s\n"
		       "r2_score:       %s\nmetrics:        %s\nparams:         %s\n"
		       "created_at:     %s\n",
		       info.model_name, info.model_version, info.artifact,
		       cli_safe(run, sizeof run, info.run_id),
		       cli_safe(ty, sizeof ty, info.model_type),
		       info.is_production ? "yes" : "no", sz,
		       (long long)info.size, ssz, info.compression,
		       info.chunk_count ? "chunked" : "inline",
		       info.sha256[0] ? info.sha256 : "(none recorded)", acc, rmse,
		       r2, info.metrics_json, info.params_json,
		       info.created_at);
		print_metric_history(json_object_get(history, "metrics"));
	}
	json_decref(history);
	ms_artifact_info_dispose(&info);
	ms_store_close(s);
	return 0;
}

static int promote_or_rollback(cli *c, int argc, char **argv, bool promote)
{
	static const struct option longopts[] = {
		{ "reason", required_argument, NULL, 'r' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	const char *reason = NULL;
	ms_buf to = MS_BUF_INIT;
	char promoted[MS_VERSION_MAX + 1] = "";
	ms_store *s;
	int opt, rc;
	ms_status st;

	optind = 0;
	while ((opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (opt) {
		case 'r': reason = optarg; break;
		case 'h':
			puts(promote
			     ? "usage: modelstore promote VERSION|@ALIAS [--reason TEXT]\n\n"
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
	/* "@ALIAS" promotes the version the alias points to */
	if (promote && (rc = cli_check_selector(c, argv[optind],
	                                        argv[optind][0] == '@')) != 0)
		return rc;
	if ((rc = cli_open_store(c, &s, true)) != 0)
		return rc;
	if (promote)
		st = ms_store_promote(s, c->name, argv[optind], reason);
	else
		st = ms_store_rollback(&to, s, c->name, reason);
	if (st == MS_OK && promote && argv[optind][0] == '@') {
		/* say which version the alias was: production now */
		ms_artifact_info info = MS_ARTIFACT_INFO_INIT;
		st = ms_store_show(&info, s, c->name, "production", NULL);
		snprintf(promoted, sizeof promoted, "%s", info.model_version);
		ms_artifact_info_dispose(&info);
	}
	if (st != MS_OK) {
		rc = cli_fail(c, st, "%s", ms_store_errmsg(s));
	} else {
		const char *v = !promote ? to.ptr
		                : argv[optind][0] == '@' ? promoted : argv[optind];
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

int cmd_promote(cli *c, int argc, char **argv)
{
	return promote_or_rollback(c, argc, argv, true);
}

int cmd_rollback(cli *c, int argc, char **argv)
{
	return promote_or_rollback(c, argc, argv, false);
}

int cmd_export(cli *c, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "dir", required_argument, NULL, 'd' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	const char *dir = c->fallback_dir, *sel = "production";
	ms_artifact_info info = MS_ARTIFACT_INFO_INIT;
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
	if ((rc = cli_check_selector(c, sel, true)) != 0)
		return rc;
	if ((rc = cli_open_store(c, &s, true)) != 0)
		return rc;
	st = ms_store_export(&info, s, c->name, sel, dir, cli_progress, c);
	cli_progress_end(c);
	if (st != MS_OK) {
		rc = cli_fail(c, st, "%s", ms_store_errmsg(s));
	} else if (c->json) {
		json_t *j = cli_info_json(&info);
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

int cmd_prune(cli *c, int argc, char **argv)
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
			if (!cli_parse_uint(optarg, 1000000ull, &keep))
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
	st = ms_store_prune(&deleted, s, c->name, (unsigned)keep, dry);
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
	cli_progress_clear(); /* the progress line goes first */
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
		bool unrecorded = r == MS_OK && !info->sha256[0];
		printf("%-10s %s %s %s%s%s%s\n", state, info->model_name,
		       info->model_version, info->artifact,
		       unrecorded ? " (no recorded hash; bytes hash to " : "",
		       unrecorded ? actual : "", unrecorded ? ")" : "");
	}
}

int cmd_verify(cli *c, int argc, char **argv)
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
		st = ms_store_backfill_hashes(&filled, s, c->name_given ? c->name : NULL);
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
	st = ms_store_verify(&checked, &bad, s, c->name_given ? c->name : NULL,
	                     verify_cb, &v);
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
