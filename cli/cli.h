/* cli.h - shared pieces of the modelstore command-line tool. */
#ifndef MS_CLI_H
#define MS_CLI_H

#include <jansson.h>
#include <stdbool.h>

#include "modelstore.h"

/* Exit codes: documented in docs/cli.md, never renumbered. */
enum {
	EXIT_OK_ = 0,
	EXIT_ERROR_ = 1,
	EXIT_USAGE = 2,
	EXIT_NOTFOUND = 3,
	EXIT_UNREACHABLE = 4,
	EXIT_INTEGRITY = 5
};

/* Returned by a command's option-parsing step when it printed the
 * --help text: the command then exits 0.  Never an exit code itself. */
#define CLI_HELP_SHOWN (-1)

typedef struct cli {
	const char *db;           /* --db, else $DATABASE_URL, else NULL (libpq env) */
	const char *name;         /* --name, default "default" */
	bool name_given;          /* --name was given: list and verify filter by it */
	const char *fallback_dir; /* --fallback-dir, default "models" */
	bool json;                /* --json */
	bool quiet;               /* -q */
	const char *command;      /* the command being run, for messages */
	int timeout_ms;           /* --timeout: statement deadline in ms, 0
	                             none, -1 not given (command's default) */
} cli;

/* --timeout defaults: a loader must fall back fast; other commands may
 * wait longer for a busy server (docs/cli.md). */
#define CLI_TIMEOUT_LOAD_MS 5000
#define CLI_TIMEOUT_DEFAULT_MS 30000

/* The deadline for statements: --timeout, or @p def when not given. */
int cli_timeout_ms(const cli *c, int def);

/* ---- util.c: errors ---- */

/* Exit code for a library status. */
int cli_exit_for(ms_status st);

/* Print "modelstore: <command>: <message>" (or a JSON error object on
 * stderr with --json) and return the exit code for @st. */
int cli_fail(const cli *c, ms_status st, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* cli_fail with a message copied out of a handle (ms_loader_last_error,
 * ms_predlog_last_error, ms_file_write_atomic): @msg is disposed; the
 * status text stands in when it is empty. */
int cli_fail_buf(const cli *c, ms_status st, ms_buf *msg);

/* Usage error: message plus a hint to --help; returns EXIT_USAGE. */
int cli_usage(const cli *c, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* ---- util.c: store and output ---- */

/* Open a store on c->db (schema checked).  On failure prints the error
 * and returns the exit code (non-zero); *out is NULL then. */
int cli_open_store(const cli *c, ms_store **out, bool check_schema);

/* The library's log callback (ms_set_log_fn; payload: cli*): one line on
 * stderr, "modelstore: <message>", or with --json one object
 * {"log": level, "message": text}. */
void cli_log(void *payload, ms_log_level level, const char *message);

/* Print @doc (stolen) as the one JSON document on stdout. */
void cli_print_json(json_t *doc);

/* ---- util.c: progress ---- */

/* CLOCK_MONOTONIC in nanoseconds. */
uint64_t cli_now_ns(void);

/* Progress reporter for ms_progress_fn: prints to stderr only when stderr
 * is a terminal and neither --json nor -q was given.  Payload: cli*. */
void cli_progress(void *payload, uint64_t done, uint64_t total);
/* Erase the progress line, if one is shown, before printing a line. */
void cli_progress_clear(void);
void cli_progress_end(const cli *c);

/* ---- util.c: arguments ---- */

/* true when --help/-h is among argv[1..] before "--". */
bool cli_wants_help(int argc, char **argv);

/* A finite number, the whole of @s. */
bool cli_parse_double(const char *s, double *out);

/* A decimal integer 0..@max, the whole of @s (no sign). */
bool cli_parse_uint(const char *s, unsigned long long max,
                    unsigned long long *out);

/* 0 when @sel is a valid version (or, with @words_ok, "production",
 * "latest" or "@ALIAS"); else prints the usage error and returns
 * EXIT_USAGE.  Called before connecting. */
int cli_check_selector(const cli *c, const char *sel, bool words_ok);

/* ---- util.c: display ---- */

/* The artifact object of the JSON output (docs/cli.md). */
json_t *cli_info_json(const ms_artifact_info *info);

/* @p s with control characters (C0, DEL, UTF-8 C1) written as \xNN, so
 * that a stored string cannot drive the terminal; truncated to fit
 * @p n.  Returns @p buf. */
const char *cli_safe(char *buf, size_t n, const char *s);

/* A byte count for people: "512 B", "12.5 KiB", "3.1 GiB"; "?" when
 * negative (unknown). */
void cli_fmt_size(char *buf, size_t n, int64_t v);

/* A metric for a table: "%.4g", "-" when NAN (absent). */
void cli_fmt_metric(char *buf, size_t n, double v);

/* ---- forgive.c: forgiving the way git does ---- */

/* Every command's getopt_long is this: getopt quiet (opterr = 0, our
 * messages only) and its table remembered for cli_bad_option. */
#include <getopt.h>
int cli_getopt_long(int argc, char *const argv[], const char *optstring,
                    const struct option *longopts, int *longindex);
#define getopt_long(argc, argv, optstring, longopts, longindex) \
	cli_getopt_long(argc, argv, optstring, longopts, longindex)

/* The candidate nearest to @word within a few edits (or of which @word
 * is a prefix), or NULL. */
const char *cli_suggest(const char *word, const char *const *cands, size_t n);

/* After a command's getopt_long returned '?': the message naming the
 * offending option, with "did you mean" from that command's option
 * table, into @buf.  false when it cannot tell. */
bool cli_bad_option(char *buf, size_t n);

/* Move the global options --db, --name, --fallback-dir (with a value, as
 * the next word or after "=") and --json found in argv[from..] (up to
 * "--") into @c, removing them from argv.  0, or EXIT_USAGE (printed). */
int cli_hoist_globals(cli *c, int *argc, char **argv, int from);

/* ---- the commands: int cmd_x(cli *c, int argc, char **argv) ----
 * argv[0] is the command's name; the return value is the exit code. */

int cmd_migrate(cli *c, int argc, char **argv);     /* cmd_admin.c */
int cmd_doctor(cli *c, int argc, char **argv);      /* cmd_admin.c */
int cmd_push(cli *c, int argc, char **argv);        /* cmd_push.c */
int cmd_pull(cli *c, int argc, char **argv);        /* cmd_registry.c */
int cmd_list(cli *c, int argc, char **argv);        /* cmd_registry.c */
int cmd_show(cli *c, int argc, char **argv);        /* cmd_registry.c */
int cmd_promote(cli *c, int argc, char **argv);     /* cmd_registry.c */
int cmd_rollback(cli *c, int argc, char **argv);    /* cmd_registry.c */
int cmd_export(cli *c, int argc, char **argv);      /* cmd_registry.c */
int cmd_prune(cli *c, int argc, char **argv);       /* cmd_registry.c */
int cmd_verify(cli *c, int argc, char **argv);      /* cmd_registry.c */
int cmd_load(cli *c, int argc, char **argv);        /* cmd_load.c */
int cmd_predictions(cli *c, int argc, char **argv); /* cmd_predictions.c */
int cmd_report(cli *c, int argc, char **argv);      /* cmd_report.c */
int cmd_runs(cli *c, int argc, char **argv);        /* cmd_runs.c */
int cmd_alias(cli *c, int argc, char **argv);       /* cmd_alias.c */
int cmd_partitions(cli *c, int argc, char **argv);  /* cmd_partitions.c */

/* `predictions actual --file F` (cmd_actuals.c), dispatched from
 * cmd_predictions when cmd_actuals_wanted(argc, argv). */
bool cmd_actuals_wanted(int argc, char **argv);
int cmd_actuals(cli *c, int argc, char **argv);
/* `predictions prune` (cmd_retention.c), and its AGE parser ("90d":
 * a number and one of s m h d w, up to 100 years). */
int cmd_predictions_prune(cli *c, int argc, char **argv);
bool cli_parse_age(const char *s, int64_t *secs);

#endif
