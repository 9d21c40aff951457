/*
 * main.c - the modelstore command-line tool: global options, the command
 * table and dispatch.  The commands live in cmd_*.c, their shared helpers
 * in util.c.
 */
#define _GNU_SOURCE
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

typedef struct command {
	const char *name;
	int (*fn)(cli *c, int argc, char **argv);
	const char *summary;
} command;

static const command commands[] = {
	{ "migrate", cmd_migrate, "apply pending schema migrations" },
	{ "push", cmd_push, "store a model file (prints its version)" },
	{ "pull", cmd_pull, "fetch VERSION|production|latest|@ALIAS into a file" },
	{ "load", cmd_load, "show what a loader would serve now (--watch)" },
	{ "list", cmd_list, "list stored versions" },
	{ "show", cmd_show, "show one version's metadata" },
	{ "promote", cmd_promote, "make a version the production model" },
	{ "rollback", cmd_rollback, "return to the previous production model" },
	{ "export", cmd_export, "write the fallback copy atomically" },
	{ "prune", cmd_prune, "delete old versions, keeping N and production" },
	{ "verify", cmd_verify, "re-hash stored artifacts" },
	{ "predictions", cmd_predictions, "import predictions, record actuals" },
	{ "report", cmd_report, "per-version prediction report (--html)" },
	{ "runs", cmd_runs, "training runs: start, log, finish, list, show" },
	{ "alias", cmd_alias, "point an alias (champion, canary) at a version" },
	{ "partitions", cmd_partitions, "partition the prediction log by day" },
	{ "doctor", cmd_doctor, "check connection, schema, fallback" },
	{ NULL, NULL, NULL }
};

static void usage(FILE *f)
{
	fputs("usage: modelstore [--db URL] [--json] [--name NAME] "
	      "[--fallback-dir DIR] [--timeout S] <command> [args]\n\n"
	      "Model binaries in PostgreSQL, served with cache and fallback.\n\n"
	      "Global options:\n"
	      "  --db URL            database (default: $DATABASE_URL, else libpq's\n"
	      "                      PGHOST/PGPORT/service files/.pgpass)\n"
	      "  --json              one JSON document on stdout; errors as JSON\n"
	      "  --name NAME         model name (default: default)\n"
	      "  --fallback-dir DIR  fallback directory (default: models)\n"
	      "  --timeout SECONDS   deadline of each database statement; on\n"
	      "                      expiry it is canceled (load: served from\n"
	      "                      the fallback).  Default 5 for load, 30 for\n"
	      "                      the others; 0: none\n"
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
		{ "timeout", required_argument, NULL, 't' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 }
	};
	cli c = { 0 };
	double secs;
	int opt, rc;
	bool show_version = false;

	c.db = getenv("DATABASE_URL");
	c.name = MS_DEFAULT_NAME;
	c.fallback_dir = "models";
	c.timeout_ms = -1;
	/* errors before the command is known are JSON too when --json is
	 * anywhere on the line */
	for (int i = 1; i < argc && strcmp(argv[i], "--") != 0; i++)
		if (strcmp(argv[i], "--json") == 0)
			c.json = true;
	while ((opt = getopt_long(argc, argv, "+qh", longopts, NULL)) != -1) {
		switch (opt) {
		case 'd': c.db = optarg; break;
		case 'j': c.json = true; break;
		case 'n': c.name = optarg; c.name_given = true; break;
		case 'f': c.fallback_dir = optarg; break;
		case 'q': c.quiet = true; break;
		case 't':
			if (!cli_parse_double(optarg, &secs) || secs < 0 ||
			    secs > 86400) {
				c.command = "modelstore";
				fprintf(stderr, "modelstore: invalid --timeout value: "
				        "\"%s\" (seconds, 0 to 86400; 0: none)\n",
				        optarg);
				return EXIT_USAGE;
			}
			c.timeout_ms = secs > 0 && secs < 0.001 ? 1
			               : (int)(secs * 1000.0 + 0.5);
			break;
		case 'h': usage(stdout); return 0;
		case 'V': show_version = true; break;
		default: return cli_usage(&c, "unknown option");
		}
	}
	if (show_version && optind >= argc) {
		if (c.json)
			cli_print_json(json_pack("{s:s}", "version", ms_version()));
		else
			printf("modelstore %s\n", ms_version());
		return 0;
	}
	if (optind >= argc) {
		if (c.json)
			return cli_usage(&c, "no command given");
		usage(stderr);
		return EXIT_USAGE;
	}
	/* `modelstore push model.pkl --json`: global options after the
	 * command work as before it */
	if ((rc = cli_hoist_globals(&c, &argc, argv, optind + 1)) != 0)
		return rc;
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
			ms_set_log_fn(cli_log, &c);
			return k->fn(&c, argc - optind, argv + optind);
		}
	}
	{
		const char *names[sizeof commands / sizeof *commands];
		size_t n = 0;
		const char *sug;
		for (const command *k = commands; k->name; k++)
			names[n++] = k->name;
		sug = cli_suggest(argv[optind], names, n);
		if (sug)
			return cli_usage(&c, "unknown command \"%s\" (did you mean "
			                 "%s?)", argv[optind], sug);
		return cli_usage(&c, "unknown command \"%s\"", argv[optind]);
	}
}
