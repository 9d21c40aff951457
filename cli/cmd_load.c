/*
 * cmd_load.c - `modelstore load [SELECTOR] [--watch]`: what the library's loader would
 * serve right now (database, cache or fallback), and with --watch one
 * more line each time production changes, until SIGINT/SIGTERM.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

static const char LOAD_HELP[] =
	"usage: modelstore [--db URL] [--name NAME] [--fallback-dir DIR] [--json]\n"
	"                  load [SELECTOR] [--watch]\n"
	"\n"
	"Run the library's loader for NAME (default \"default\") and print what\n"
	"it would serve right now: the source (database, cache or fallback),\n"
	"version, size, SHA-256 and whether the bytes were verified against a\n"
	"recorded hash.  When the database cannot be reached the fallback copy\n"
	"under DIR (default \"models\") is used: DIR/production/model.bin (or\n"
	"DIR/production/NAME/model.bin), then DIR/model.bin.\n"
	"\n"
	"  SELECTOR      production (the default), latest, a version, or\n"
	"                @ALIAS (served from the cache only while the database\n"
	"                is out: aliases have no fallback file)\n"
	"  -w, --watch   keep running; print one more line each time the\n"
	"                selected model changes (LISTEN/NOTIFY), until\n"
	"                interrupted.  With --json the output is NDJSON.\n"
	"  -h, --help    this text\n"
	"\n"
	"Exit codes: 0 ok, 1 error, 2 usage, 3 no production model,\n"
	"4 database unreachable and no fallback file, 5 integrity failure.\n";

static int wake_pipe[2] = { -1, -1 };
/* what `load` asks the loader for: "production" unless given */
static const char *selector = "production";

static void on_signal(int sig)
{
	int saved = errno;
	char b = (char)sig;
	(void)!write(wake_pipe[1], &b, 1);
	errno = saved;
}

static void on_change(void *payload, const char *name, const char *version)
{
	(void)payload;
	(void)name;
	(void)version;
	(void)!write(wake_pipe[1], "c", 1);
}

static void print_model(const cli *c, const ms_model *m, bool ndjson)
{
	if (c->json) {
		json_t *o = json_pack(
			"{s:s,s:s,s:s,s:s,s:I,s:s,s:b}", "model_name",
			ms_model_name(m), "model_version", ms_model_version(m),
			"model_type", ms_model_type(m), "source",
			ms_source_str(ms_model_source(m)), "size",
			(json_int_t)ms_model_size(m), "sha256", ms_model_sha256(m),
			"verified", ms_model_verified(m));
		if (!ndjson) {
			cli_print_json(o);
		} else {
			char *t = o ? json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER)
			            : NULL;
			if (t)
				printf("%s\n", t);
			free(t);
			json_decref(o);
		}
	} else {
		printf("%s %s from %s: %llu bytes, sha256 %s, %s\n",
		       ms_model_name(m), ms_model_version(m),
		       ms_source_str(ms_model_source(m)),
		       (unsigned long long)ms_model_size(m), ms_model_sha256(m),
		       ms_model_verified(m) ? "verified" : "unverified");
	}
	fflush(stdout);
}

static int get_and_print(cli *c, ms_loader *l, bool ndjson, char *last,
                         size_t lastn)
{
	ms_model *m = NULL;
	ms_status st = ms_loader_get(&m, l, c->name, selector);
	if (st != MS_OK) {
		ms_buf err = MS_BUF_INIT;
		ms_loader_last_error(&err, l);
		return cli_fail_buf(c, st, &err);
	}
	/* a change notification for a version already printed is quiet */
	if (last == NULL || strcmp(last, ms_model_version(m)) != 0) {
		print_model(c, m, ndjson);
		if (last)
			snprintf(last, lastn, "%s", ms_model_version(m));
	}
	ms_model_release(m);
	return 0;
}

/* 0, CLI_HELP_SHOWN, or the exit code of a usage error. */
static int parse_load_args(cli *c, bool *watch, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "watch", no_argument, NULL, 'w' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	int opt;

	*watch = false;
	optind = 0;
	while ((opt = getopt_long(argc, argv, "wh", longopts, NULL)) != -1) {
		switch (opt) {
		case 'w': *watch = true; break;
		case 'h': fputs(LOAD_HELP, stdout); return CLI_HELP_SHOWN;
		default: return cli_usage(c, "unknown option");
		}
	}
	if (optind < argc) {
		int rc = cli_check_selector(c, argv[optind], true);
		if (rc != 0)
			return rc;
		selector = argv[optind++];
	}
	if (optind < argc)
		return cli_usage(c, "unexpected argument \"%s\"", argv[optind]);
	return 0;
}

/* The loader, with --watch also the wake-up pipe and change callback. */
static int open_loader(const cli *c, bool watch, ms_loader **l)
{
	ms_loader_options o;
	ms_buf err = MS_BUF_INIT;
	ms_status st;

	ms_loader_options_init(&o, MS_LOADER_OPTIONS_VERSION);
	o.fallback_dir = c->fallback_dir;
	o.query_timeout_ms = cli_timeout_ms(c, CLI_TIMEOUT_LOAD_MS);
	if (o.query_timeout_ms == 0)
		o.query_timeout_ms = -1; /* --timeout 0: none */
	if (watch) {
		if (pipe2(wake_pipe, O_CLOEXEC | O_NONBLOCK) != 0)
			return cli_fail(c, MS_ERROR, "pipe: %s", strerror(errno));
		o.watch = MS_WATCH_NOTIFY;
		o.on_change = on_change;
	}
	st = ms_loader_open(l, c->db, &o);
	if (st == MS_OK)
		return 0;
	ms_loader_last_error(&err, *l);
	ms_loader_close(*l);
	*l = NULL;
	return cli_fail_buf(c, st, &err);
}

/* Empty the wake-up pipe: a change notification ('c') or a signal. */
static void drain_wake_pipe(bool *changed, bool *stop)
{
	char buf[64];
	ssize_t n;
	while ((n = read(wake_pipe[0], buf, sizeof buf)) > 0) {
		for (ssize_t i = 0; i < n; i++) {
			if (buf[i] == 'c')
				*changed = true;
			else
				*stop = true;
		}
	}
}

/* --watch: one more line per production change until SIGINT/SIGTERM. */
static int watch_changes(cli *c, ms_loader *l, char *last, size_t lastn)
{
	struct sigaction sa;
	int rc = 0;

	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	for (;;) {
		struct pollfd pf = { wake_pipe[0], POLLIN, 0 };
		bool stop = false, changed = false;
		if (poll(&pf, 1, -1) < 0 && errno != EINTR)
			break;
		drain_wake_pipe(&changed, &stop);
		if (stop)
			break;
		if (changed && (rc = get_and_print(c, l, true, last, lastn)) != 0)
			break;
	}
	return rc;
}

int cmd_load(cli *c, int argc, char **argv)
{
	ms_loader *l = NULL;
	bool watch;
	char last[MS_VERSION_MAX + 1] = "";
	int rc = parse_load_args(c, &watch, argc, argv);

	if (rc != 0)
		return rc == CLI_HELP_SHOWN ? 0 : rc;
	if ((rc = open_loader(c, watch, &l)) != 0)
		return rc;
	rc = get_and_print(c, l, watch, watch ? last : NULL, sizeof last);
	if (rc == 0 && watch)
		rc = watch_changes(c, l, last, sizeof last);
	ms_loader_close(l);
	if (watch) {
		close(wake_pipe[0]);
		close(wake_pipe[1]);
	}
	return rc;
}
