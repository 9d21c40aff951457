/*
 * cmd_retention.c - `modelstore predictions prune --older-than AGE`:
 * delete old prediction rows in bounded batches
 * (ms_store_prune_predictions), dispatched from cmd_predictions.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

static const char prune_usage[] =
	"usage: modelstore [--name N] predictions prune --older-than AGE\n"
	"                  [--batch ROWS] [--dry-run]\n\n"
	"Delete the predictions older than AGE (by prediction_time; AGE is a\n"
	"number with a unit: 90d, 12h, 30m, 3600s, 2w) of --name, or of every\n"
	"name when --name is not given.  Rows go in batches of ROWS (default\n"
	"10000), each its own short transaction, so loggers and readers carry\n"
	"on; progress is shown on a terminal.  --dry-run only counts.\n"
	"Interrupted, it can be run again: it continues.\n";

bool cli_parse_age(const char *s, int64_t *secs)
{
	char *end;
	unsigned long long v;
	int64_t unit;
	if (s == NULL || *s < '0' || *s > '9')
		return false;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || end[0] == '\0' || end[1] != '\0')
		return false;
	switch (end[0]) {
	case 's': unit = 1; break;
	case 'm': unit = 60; break;
	case 'h': unit = 3600; break;
	case 'd': unit = 86400; break;
	case 'w': unit = 7 * 86400; break;
	default: return false;
	}
	if (v > (unsigned long long)(INT64_C(100) * 366 * 86400 / unit))
		return false;
	*secs = (int64_t)v * unit;
	return true;
}

/* Progress in rows, on a terminal only, at most 10 times a second. */
static void rows_progress(void *payload, uint64_t done, uint64_t total)
{
	const cli *c = payload;
	static uint64_t start, last;
	uint64_t t = cli_now_ns();
	double secs, rate;
	if (c->json || c->quiet || !isatty(2))
		return;
	if (start == 0)
		start = t;
	if (t - last < 100000000u && done < total)
		return;
	last = t;
	secs = (double)(t - start) / 1e9;
	rate = secs > 0 ? (double)done / secs : 0;
	fprintf(stderr, "\r\033[Kdeleted %llu of %llu rows (%3.0f%%), %.0f rows/s",
	        (unsigned long long)done, (unsigned long long)total,
	        total ? 100.0 * (double)done / (double)total : 100.0, rate);
	if (rate > 0 && done < total)
		fprintf(stderr, ", ETA %.0fs", (double)(total - done) / rate);
}

int cmd_predictions_prune(cli *c, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "older-than", required_argument, NULL, 'o' },
		{ "batch", required_argument, NULL, 'b' },
		{ "dry-run", no_argument, NULL, 'n' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	int64_t age = -1;
	unsigned long long batch = 0;
	int dry = 0, opt, rc;
	ms_prune_result r;
	ms_store *s;
	ms_status st;
	const char *name = c->name_given ? c->name : NULL;

	optind = 0;
	while ((opt = getopt_long(argc, argv, "nh", longopts, NULL)) != -1) {
		switch (opt) {
		case 'o':
			if (!cli_parse_age(optarg, &age))
				return cli_usage(c, "invalid --older-than value: \"%s\" "
				                 "(a number and a unit: 90d, 12h, 30m, "
				                 "3600s, 2w)", optarg);
			break;
		case 'b':
			if (!cli_parse_uint(optarg, 1000000ull, &batch) || batch == 0)
				return cli_usage(c, "invalid --batch value: \"%s\" (1 to "
				                 "1000000 rows)", optarg);
			break;
		case 'n': dry = 1; break;
		case 'h': fputs(prune_usage, stdout); return 0;
		default: return cli_usage(c, "unknown option");
		}
	}
	if (optind < argc)
		return cli_usage(c, "unexpected argument \"%s\"", argv[optind]);
	if (age < 0)
		return cli_usage(c, "--older-than AGE is required (e.g. 90d)");
	if ((rc = cli_open_store(c, &s, true)) != 0)
		return rc;
	st = ms_store_prune_predictions(&r, s, name, age, (size_t)batch, dry,
	                                rows_progress, c);
	if (!c->json && !c->quiet && isatty(2) && r.batches)
		fputs("\r\033[K", stderr);
	if (st != MS_OK) {
		rc = cli_fail(c, st, "%s (%llu rows deleted before)",
		              ms_store_errmsg(s), (unsigned long long)r.deleted);
		ms_store_close(s);
		return rc;
	}
	ms_store_close(s);
	if (c->json)
		cli_print_json(json_pack("{s:s?,s:s,s:b,s:I,s:I,s:I}", "model_name",
		                         name, "cutoff", r.cutoff, "dry_run", dry,
		                         "matched", (json_int_t)r.matched,
		                         "deleted", (json_int_t)r.deleted,
		                         "batches", (json_int_t)r.batches));
	else if (dry)
		printf("would delete %llu prediction%s older than %s%s%s\n",
		       (unsigned long long)r.matched, r.matched == 1 ? "" : "s",
		       r.cutoff, name ? " of " : "", name ? name : "");
	else
		printf("deleted %llu prediction%s older than %s%s%s in %llu "
		       "batch%s\n", (unsigned long long)r.deleted,
		       r.deleted == 1 ? "" : "s", r.cutoff, name ? " of " : "",
		       name ? name : "", (unsigned long long)r.batches,
		       r.batches == 1 ? "" : "es");
	return 0;
}
