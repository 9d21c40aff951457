/*
 * cmd_alias.c - `modelstore alias set|rm|list`: named pointers to
 * versions beside production ("champion", "canary"), selected elsewhere
 * as @ALIAS.
 */
#define _GNU_SOURCE
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static const char ALIAS_HELP[] =
	"usage: modelstore [--name NAME] alias set ALIAS VERSION [--reason TEXT]\n"
	"       modelstore [--name NAME] alias rm ALIAS [--reason TEXT]\n"
	"       modelstore [--name NAME] alias list\n"
	"\n"
	"Point ALIAS of the model name at VERSION (a version, production,\n"
	"latest or @OTHER, resolved now), remove it, or list the aliases.\n"
	"One version per alias per model name; every move is recorded in\n"
	"model_alias_history.  Select the version anywhere a selector is\n"
	"taken with @ALIAS (pull @champion, load @champion, promote @canary).\n"
	"ALIAS: 1-50 of A-Z a-z 0-9 . _ -, not production, latest or previous.\n";

static int check_alias(const cli *c, const char *alias)
{
	if (alias[0] == '@')
		alias++;
	if (ms_alias_check(alias) == MS_OK)
		return 0;
	return cli_usage(c, "invalid alias: \"%.*s\" (1-%d of A-Z a-z 0-9 . _ "
	                 "-, not production, latest or previous)",
	                 MS_ALIAS_MAX + 8, alias, MS_ALIAS_MAX);
}

int cmd_alias(cli *c, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "reason", required_argument, NULL, 'r' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	const char *reason = NULL, *sub, *alias = NULL;
	ms_buf b = MS_BUF_INIT;
	ms_store *s;
	ms_status st;
	int opt, rc, want;

	optind = 0;
	while ((opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (opt) {
		case 'r': reason = optarg; break;
		case 'h': fputs(ALIAS_HELP, stdout); return 0;
		default: return cli_usage(c, "unknown option");
		}
	}
	if (optind >= argc)
		return cli_usage(c, "expected set, rm or list");
	sub = argv[optind++];
	want = strcmp(sub, "set") == 0 ? 2 : strcmp(sub, "rm") == 0 ? 1
	       : strcmp(sub, "list") == 0 ? 0 : -1;
	if (want < 0)
		return cli_usage(c, "unknown alias subcommand \"%.40s\" (set, rm, "
		                 "list)", sub);
	if (argc - optind != want)
		return cli_usage(c, "alias %s takes %s", sub,
		                 want == 2 ? "ALIAS VERSION" : want == 1 ? "ALIAS"
		                                                     : "nothing");
	if (want > 0) {
		alias = argv[optind][0] == '@' ? argv[optind] + 1 : argv[optind];
		if ((rc = check_alias(c, argv[optind])) != 0)
			return rc;
	}
	if (want == 2 && (rc = cli_check_selector(c, argv[optind + 1], true)))
		return rc;
	if ((rc = cli_open_store(c, &s, true)) != 0)
		return rc;
	if (want == 2)
		st = ms_store_alias_set(s, c->name, alias, argv[optind + 1],
		                        reason);
	else if (want == 1)
		st = ms_store_alias_remove(s, c->name, alias, reason);
	else
		st = ms_store_alias_list(&b, s, c->name_given ? c->name : NULL);
	if (st != MS_OK) {
		rc = cli_fail(c, st, "%s", ms_store_errmsg(s));
		ms_store_close(s);
		return rc;
	}
	if (want == 2) {
		/* what the alias points to now, as the database says */
		ms_artifact_info info = MS_ARTIFACT_INFO_INIT;
		char sel[MS_ALIAS_MAX + 2];
		snprintf(sel, sizeof sel, "@%s", alias);
		st = ms_store_show(&info, s, c->name, sel, NULL);
		if (st != MS_OK)
			rc = cli_fail(c, st, "%s", ms_store_errmsg(s));
		else if (c->json)
			cli_print_json(json_pack("{s:s,s:s,s:s}", "model_name",
			                         c->name, "alias", alias,
			                         "model_version", info.model_version));
		else
			printf("%s @%s -> %s\n", c->name, alias, info.model_version);
		ms_artifact_info_dispose(&info);
	} else if (want == 1) {
		if (c->json)
			cli_print_json(json_pack("{s:s,s:s,s:n}", "model_name",
			                         c->name, "alias", alias,
			                         "model_version"));
		else
			printf("%s @%s removed\n", c->name, alias);
	} else {
		json_t *doc = json_loads(b.ptr, 0, NULL);
		size_t i;
		json_t *a;
		ms_buf_dispose(&b);
		if (doc == NULL) {
			rc = cli_fail(c, MS_ERROR, "unreadable answer from the server");
		} else if (c->json) {
			cli_print_json(doc);
		} else {
			printf("%-20s %-20s %-22s %s\n", "NAME", "ALIAS", "VERSION",
			       "SET_AT");
			json_array_foreach(doc, i, a)
				printf("%-20s %-20s %-22s %s\n",
				       json_string_value(json_object_get(a, "model_name")),
				       json_string_value(json_object_get(a, "alias")),
				       json_string_value(json_object_get(a, "model_version")),
				       json_string_value(json_object_get(a, "set_at")));
			json_decref(doc);
		}
	}
	ms_store_close(s);
	return rc;
}
