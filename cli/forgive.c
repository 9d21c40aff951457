/*
 * forgive.c - what makes the CLI forgive the way git does: global options
 * anywhere on the line, "did you mean" for commands, options and the
 * selector words, and getopt kept quiet so that every error is ours (one
 * line, or one JSON object with --json).
 *
 * cli.h makes every getopt_long call after it a call of
 * cli_getopt_long, which turns getopt's own messages off and records the
 * option table and argv in use, so that cli_usage(c, "unknown option")
 * can name the option and suggest the nearest one without each command
 * passing its table around.  (A macro, not the linker's --wrap: the CLI
 * also builds against the installed library with a plain cc.)
 */
#define _GNU_SOURCE
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

/* ------------------------------------------------------------------ */
/* distance                                                            */
/* ------------------------------------------------------------------ */

/* Optimal string alignment distance (a swap of two neighbours is one
 * edit: "pusj" and "psuh" are both 1 from "push"); long words are
 * capped. */
static int edit_distance(const char *a, const char *b)
{
	enum { MAXW = 64 };
	int d[MAXW + 1][MAXW + 1];
	size_t n = strlen(a), m = strlen(b);
	if (n > MAXW || m > MAXW)
		return 99;
	for (size_t i = 0; i <= n; i++)
		d[i][0] = (int)i;
	for (size_t j = 0; j <= m; j++)
		d[0][j] = (int)j;
	for (size_t i = 1; i <= n; i++)
		for (size_t j = 1; j <= m; j++) {
			int c = a[i - 1] != b[j - 1];
			int v = d[i - 1][j] + 1;
			if (d[i][j - 1] + 1 < v) v = d[i][j - 1] + 1;
			if (d[i - 1][j - 1] + c < v) v = d[i - 1][j - 1] + c;
			if (i > 1 && j > 1 && a[i - 1] == b[j - 2] &&
			    a[i - 2] == b[j - 1] && d[i - 2][j - 2] + 1 < v)
				v = d[i - 2][j - 2] + 1;
			d[i][j] = v;
		}
	return d[n][m];
}

const char *cli_suggest(const char *word, const char *const *cands, size_t n)
{
	const char *best = NULL;
	int bd = 99, limit;
	size_t wl = strlen(word);
	limit = wl <= 3 ? 1 : wl <= 6 ? 2 : 3;
	for (size_t i = 0; i < n; i++) {
		int d;
		if (cands[i] == NULL)
			continue;
		d = edit_distance(word, cands[i]);
		/* a prefix is a likely abbreviation too: "prom" -> promote */
		if (wl >= 3 && strncmp(cands[i], word, wl) == 0 && d > 1)
			d = 1;
		if (d < bd) {
			bd = d;
			best = cands[i];
		}
	}
	return bd > 0 && bd <= limit ? best : NULL;
}

/* ------------------------------------------------------------------ */
/* getopt, kept quiet and remembered                                    */
/* ------------------------------------------------------------------ */


static const struct option *g_opts;
static const char *g_optstring;
static char *const *g_argv;
static int g_argc;

#undef getopt_long
int cli_getopt_long(int argc, char *const argv[], const char *optstring,
                    const struct option *longopts, int *longindex)
{
	opterr = 0; /* our messages only: one line, or JSON */
	g_opts = longopts;
	g_optstring = optstring;
	g_argv = argv;
	g_argc = argc;
	return getopt_long(argc, argv, optstring, longopts, longindex);
}

bool cli_bad_option(char *buf, size_t n)
{
	const char *tok;
	const char *names[64];
	size_t k = 0, len;
	const char *sug;

	if (g_argv == NULL)
		return false;
	tok = optind >= 1 && optind <= g_argc ? g_argv[optind - 1] : NULL;
	if (tok == NULL || strncmp(tok, "--", 2) != 0) {
		if (optopt == 0)
			return false;
		/* a short option: unknown, or its value is missing */
		{
			const char *o = g_optstring ? strchr(g_optstring, optopt) : NULL;
			snprintf(buf, n, o && o[1] == ':' ? "option \"-%c\" needs a "
			         "value" : "unknown option \"-%c\"", optopt);
		}
		return true;
	}
	len = strcspn(tok + 2, "=");
	for (const struct option *o = g_opts; o && o->name && k < 64; o++) {
		if (strlen(o->name) == len && strncmp(o->name, tok + 2, len) == 0) {
			snprintf(buf, n, "option \"--%s\" %s", o->name,
			         o->has_arg == required_argument ? "needs a value"
			         : "takes no value");
			return true;
		}
		names[k++] = o->name;
	}
	{
		char word[80];
		snprintf(word, sizeof word, "%.*s", (int)(len < 79 ? len : 79),
		         tok + 2);
		sug = cli_suggest(word, names, k);
		snprintf(buf, n, "unknown option \"%.*s\"%s%s%s", (int)(len + 2 < 100
		         ? len + 2 : 100), tok, sug ? " (did you mean --" : "",
		         sug ? sug : "", sug ? "?)" : "");
	}
	return true;
}

/* ------------------------------------------------------------------ */
/* global options anywhere                                             */
/* ------------------------------------------------------------------ */

/* The global options that take their value from the next word or after
 * "=", and the flag.  Only these move: -q and --version mean something
 * else to some commands (push --version VER). */
static const char *const VALUED[] = { "db", "name", "fallback-dir" };

static void drop(int *argc, char **argv, int at, int k)
{
	memmove(argv + at, argv + at + k,
	        (size_t)(*argc - at - k + 1) * sizeof *argv);
	*argc -= k;
}

int cli_hoist_globals(cli *c, int *argc, char **argv, int from)
{
	for (int i = from; i < *argc;) {
		const char *a = argv[i];
		bool done = false;
		if (strcmp(a, "--") == 0)
			break;
		if (strcmp(a, "--json") == 0) {
			c->json = true;
			drop(argc, argv, i, 1);
			continue;
		}
		for (size_t v = 0; v < sizeof VALUED / sizeof *VALUED && !done; v++) {
			size_t l = strlen(VALUED[v]);
			const char *val;
			int k;
			if (strncmp(a, "--", 2) != 0 || strncmp(a + 2, VALUED[v], l) != 0)
				continue;
			if (a[2 + l] == '=') {
				val = a + 3 + l;
				k = 1;
			} else if (a[2 + l] == '\0') {
				if (i + 1 >= *argc)
					return cli_usage(c, "option \"--%s\" needs a value",
					                 VALUED[v]);
				val = argv[i + 1];
				k = 2;
			} else {
				continue;
			}
			if (v == 0) {
				c->db = val;
			} else if (v == 1) {
				c->name = val;
				c->name_given = true;
			} else {
				c->fallback_dir = val;
			}
			drop(argc, argv, i, k);
			done = true;
		}
		if (!done)
			i++;
	}
	return 0;
}
