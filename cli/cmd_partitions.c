/*
 * cmd_partitions.c - `modelstore partitions enable|ensure|drop|list`: the
 * prediction log partitioned by day (docs/operations.md).
 */
#include "cli.h"

#include <stdio.h>
#include <string.h>

#define DEFAULT_AHEAD 7

static void usage_text(FILE *f)
{
	fputs("usage: modelstore partitions enable [--ahead DAYS]\n"
	      "       modelstore partitions ensure [--ahead DAYS]\n"
	      "       modelstore partitions drop --older-than AGE [--dry-run]\n"
	      "       modelstore partitions list\n"
	      "       modelstore partitions abort\n\n"
	      "enable  convert model_predictions in place into daily partitions\n"
	      "        (no row moves; writers go on; resumable)\n"
	      "ensure  create the partitions for the next DAYS days (default 7);\n"
	      "        run it daily\n"
	      "drop    drop the partitions whose rows are all older than AGE\n"
	      "        (e.g. 90d or 90: days)\n"
	      "list    the partitions, their bounds and estimated rows\n"
	      "abort   undo a conversion that was interrupted and will not be\n"
	      "        finished (its range constraint would refuse new rows\n"
	      "        after its cutoff)\n", f);
}

/* "90d" or "90": whole days, 1 to 36500. */
static bool parse_days(const char *s, unsigned *out)
{
	char num[16];
	size_t n = strlen(s);
	unsigned long long v;
	if (n > 0 && s[n - 1] == 'd')
		n--;
	if (n == 0 || n >= sizeof num)
		return false;
	memcpy(num, s, n);
	num[n] = '\0';
	if (!cli_parse_uint(num, 36500, &v) || v == 0)
		return false;
	*out = (unsigned)v;
	return true;
}

static int opt_ahead(const cli *c, int argc, char **argv, unsigned *ahead)
{
	unsigned long long v;
	int i;
	*ahead = DEFAULT_AHEAD;
	for (i = 2; i < argc; i++) {
		if (strcmp(argv[i], "--ahead") == 0 && i + 1 < argc) {
			if (!cli_parse_uint(argv[++i], 3660, &v))
				return cli_usage(c, "--ahead wants a number of days, "
				                 "0 to 3660, not \"%s\"", argv[i]);
			*ahead = (unsigned)v;
		} else {
			return cli_usage(c, "unexpected argument \"%s\"", argv[i]);
		}
	}
	return 0;
}

static int print_doc(const cli *c, ms_buf *doc, const char *text)
{
	if (c->json) {
		json_error_t jerr;
		json_t *j = json_loads(doc->ptr, 0, &jerr);
		if (j == NULL) {
			ms_buf_dispose(doc);
			return cli_fail(c, MS_ERROR, "unreadable answer: %s",
			                jerr.text);
		}
		cli_print_json(j);
	} else {
		fputs(text, stdout);
	}
	ms_buf_dispose(doc);
	return 0;
}

static int do_enable_or_ensure(cli *c, ms_store *s, bool enable,
                               unsigned ahead)
{
	ms_buf doc = MS_BUF_INIT;
	char text[128];
	unsigned made = 0;
	ms_status st = enable ? ms_store_partitions_enable(s, ahead)
	                      : ms_store_partitions_ensure(&made, s, ahead);
	if (st == MS_OK)
		st = ms_store_partitions_list(&doc, s);
	if (st != MS_OK)
		return cli_fail(c, st, "%s", ms_store_errmsg(s));
	if (enable)
		snprintf(text, sizeof text, "model_predictions is partitioned "
		         "by day, partitions up to %u days ahead\n", ahead);
	else
		snprintf(text, sizeof text, "created %u partition%s\n", made,
		         made == 1 ? "" : "s");
	return print_doc(c, &doc, text);
}

static int parse_drop(const cli *c, int argc, char **argv, unsigned *days,
                      bool *dry)
{
	bool have_age = false;
	*dry = false;
	for (int a = 2; a < argc; a++) {
		if (strcmp(argv[a], "--dry-run") == 0) {
			*dry = true;
		} else if (strcmp(argv[a], "--older-than") == 0 && a + 1 < argc) {
			if (!parse_days(argv[++a], days))
				return cli_usage(c, "--older-than wants days, e.g. 90d "
				                 "(1 to 36500), not \"%s\"", argv[a]);
			have_age = true;
		} else {
			return cli_usage(c, "unexpected argument \"%s\"", argv[a]);
		}
	}
	if (!have_age)
		return cli_usage(c, "drop needs --older-than AGE");
	return 0;
}

static int do_drop(cli *c, ms_store *s, unsigned days, bool dry)
{
	ms_buf names = MS_BUF_INIT;
	json_t *arr;
	json_error_t jerr;
	size_t i;
	ms_status st = ms_store_partitions_drop(&names, s, days, dry);
	if (st != MS_OK)
		return cli_fail(c, st, "%s", ms_store_errmsg(s));
	arr = json_loads(names.ptr, 0, &jerr);
	ms_buf_dispose(&names);
	if (arr == NULL || !json_is_array(arr)) {
		json_decref(arr);
		return cli_fail(c, MS_ERROR, "unreadable answer from the server");
	}
	if (c->json) {
		cli_print_json(json_pack("{s:b,s:o}", "dry_run", dry, "dropped",
		                         arr));
		return 0;
	}
	for (i = 0; i < json_array_size(arr); i++)
		printf("%s %s\n", dry ? "would drop" : "dropped",
		       json_string_value(json_array_get(arr, i)));
	if (json_array_size(arr) == 0)
		puts("no partition is that old");
	json_decref(arr);
	return 0;
}

static int do_list(cli *c, ms_store *s)
{
	ms_buf doc = MS_BUF_INIT;
	json_t *j, *parts, *p;
	json_error_t jerr;
	size_t i;
	ms_status st = ms_store_partitions_list(&doc, s);
	if (st != MS_OK)
		return cli_fail(c, st, "%s", ms_store_errmsg(s));
	if (c->json)
		return print_doc(c, &doc, "");
	j = json_loads(doc.ptr, 0, &jerr);
	ms_buf_dispose(&doc);
	if (j == NULL)
		return cli_fail(c, MS_ERROR, "unreadable answer: %s", jerr.text);
	if (!json_is_true(json_object_get(j, "partitioned"))) {
		puts("model_predictions is not partitioned "
		     "(modelstore partitions enable)");
		json_decref(j);
		return 0;
	}
	parts = json_object_get(j, "partitions");
	printf("%-28s %14s %10s  %s\n", "PARTITION", "ROWS (EST.)", "SIZE",
	       "BOUND");
	json_array_foreach(parts, i, p) {
		char size[32];
		cli_fmt_size(size, sizeof size,
		             json_integer_value(json_object_get(p, "bytes")));
		printf("%-28s %14lld %10s  %s\n",
		       json_string_value(json_object_get(p, "name")),
		       (long long)json_integer_value(
			       json_object_get(p, "rows_estimate")),
		       size, json_string_value(json_object_get(p, "bound")));
	}
	json_decref(j);
	return 0;
}

static int do_abort(cli *c, ms_store *s)
{
	ms_status st = ms_store_partitions_abort(s);
	if (st != MS_OK)
		return cli_fail(c, st, "%s", ms_store_errmsg(s));
	if (c->json)
		cli_print_json(json_pack("{s:b}", "aborted", true));
	else
		puts("no conversion is pending");
	return 0;
}

int cmd_partitions(cli *c, int argc, char **argv)
{
	ms_store *s;
	unsigned ahead = DEFAULT_AHEAD, days = 0;
	bool dry = false;
	int rc;
	const char *sub = argc > 1 ? argv[1] : NULL;

	if (cli_wants_help(argc, argv)) {
		usage_text(stdout);
		return 0;
	}
	if (sub == NULL)
		return cli_usage(c, "partitions needs enable, ensure, drop or "
		                 "list");
	if (strcmp(sub, "enable") != 0 && strcmp(sub, "ensure") != 0 &&
	    strcmp(sub, "drop") != 0 && strcmp(sub, "list") != 0 &&
	    strcmp(sub, "abort") != 0)
		return cli_usage(c, "unknown partitions command \"%s\" (enable, "
		                 "ensure, drop, list, abort)", sub);
	if ((strcmp(sub, "list") == 0 || strcmp(sub, "abort") == 0) &&
	    argc > 2)
		return cli_usage(c, "unexpected argument \"%s\"", argv[2]);
	if ((strcmp(sub, "enable") == 0 || strcmp(sub, "ensure") == 0) &&
	    (rc = opt_ahead(c, argc, argv, &ahead)) != 0)
		return rc;
	if (strcmp(sub, "drop") == 0 &&
	    (rc = parse_drop(c, argc, argv, &days, &dry)) != 0)
		return rc;
	if ((rc = cli_open_store(c, &s, true)) != 0)
		return rc;
	if (strcmp(sub, "enable") == 0 || strcmp(sub, "ensure") == 0)
		rc = do_enable_or_ensure(c, s, strcmp(sub, "enable") == 0,
		                         ahead);
	else if (strcmp(sub, "drop") == 0)
		rc = do_drop(c, s, days, dry);
	else if (strcmp(sub, "abort") == 0)
		rc = do_abort(c, s);
	else
		rc = do_list(c, s);
	ms_store_close(s);
	return rc;
}
