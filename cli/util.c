/*
 * util.c - helpers shared by the commands of the modelstore CLI (declared
 * in cli.h): errors and exit codes, opening the store, JSON output,
 * progress, argument parsing and display formats.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"

/* ------------------------------------------------------------------ */
/* errors                                                              */
/* ------------------------------------------------------------------ */

int cli_exit_for(ms_status st)
{
	switch (st) {
	case MS_OK: return EXIT_OK_;
	case MS_EINVAL: return EXIT_USAGE;
	case MS_ENOTFOUND: return EXIT_NOTFOUND;
	case MS_EUNREACHABLE: return EXIT_UNREACHABLE;
	case MS_ETIMEDOUT: return EXIT_UNREACHABLE; /* stuck is as bad as gone */
	case MS_EINTEGRITY: return EXIT_INTEGRITY;
	default: return EXIT_ERROR_;
	}
}

/* Every message one line: libpq's "...\n\tIs the server running...?\n"
 * becomes "... Is the server running...?". */
static void fold_lines(char *s)
{
	char *w = s;
	for (char *r = s; *r; r++) {
		if (*r == '\n' || *r == '\r') {
			while (r[1] == ' ' || r[1] == '\t' || r[1] == '\n' || r[1] == '\r')
				r++;
			if (w > s && w[-1] != ' ' && r[1])
				*w++ = ' ';
			continue;
		}
		*w++ = *r;
	}
	*w = '\0';
}

/* The last selector cli_check_selector let through: when it was not
 * found and is a near miss of a selector word, say so. */
static const char *g_selector;

static void suggest_selector(char *buf, size_t n)
{
	static const char *const words[] = { "production", "latest" };
	const char *s = g_selector ? cli_suggest(g_selector, words, 2) : NULL;
	size_t l = strlen(buf);
	if (s && l < n)
		snprintf(buf + l, n - l, " (did you mean %s?)", s);
}

static int fail_v(const cli *c, ms_status st, int code, const char *fmt,
                  va_list ap)
{
	char buf[2048];
	const char *msg = buf;
	size_t cl = c->command ? strlen(c->command) : 0;
	vsnprintf(buf, sizeof buf, fmt, ap);
	fold_lines(buf);
	if (st == MS_ENOTFOUND)
		suggest_selector(buf, sizeof buf);
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

int cli_fail_buf(const cli *c, ms_status st, ms_buf *msg)
{
	int code = cli_fail(c, st, "%s", msg->ptr && msg->ptr[0]
	                                  ? msg->ptr : ms_status_str(st));
	ms_buf_dispose(msg);
	return code;
}

int cli_usage(const cli *c, const char *fmt, ...)
{
	va_list ap;
	char full[1024], bad[256];
	/* a command's parser met an option it does not know: name it, and
	 * the nearest it does know */
	if (strcmp(fmt, "unknown option") == 0 && cli_bad_option(bad, sizeof bad))
		return cli_usage(c, "%s", bad);
	snprintf(full, sizeof full, "%s (see `modelstore %s%s--help`)", fmt,
	         c->command ? c->command : "", c->command ? " " : "");
	va_start(ap, fmt);
	fail_v(c, MS_EINVAL, EXIT_USAGE, full, ap);
	va_end(ap);
	return EXIT_USAGE;
}

/* ------------------------------------------------------------------ */
/* store and output                                                    */
/* ------------------------------------------------------------------ */

int cli_open_store(const cli *c, ms_store **out, bool check_schema)
{
	ms_store_options o;
	ms_status st;
	int code;
	ms_store_options_init(&o, MS_STORE_OPTIONS_VERSION);
	o.check_schema = check_schema;
	o.query_timeout_ms = cli_timeout_ms(c, CLI_TIMEOUT_DEFAULT_MS);
	st = ms_store_open(out, c->db, &o);
	if (st == MS_OK)
		return 0;
	code = cli_fail(c, st, "%s", ms_store_errmsg(*out));
	ms_store_close(*out);
	*out = NULL;
	return code;
}

int cli_timeout_ms(const cli *c, int def)
{
	return c->timeout_ms < 0 ? def : c->timeout_ms;
}

void cli_log(void *payload, ms_log_level level, const char *message)
{
	const cli *c = payload;
	if (c->json) {
		json_t *o = json_pack("{s:s, s:s}", "log", ms_log_level_str(level),
		                      "message", message);
		char *t = o ? json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
		if (t)
			fprintf(stderr, "%s\n", t);
		free(t);
		json_decref(o);
		return;
	}
	fprintf(stderr, "modelstore: %s\n", message);
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

/* ------------------------------------------------------------------ */
/* progress                                                            */
/* ------------------------------------------------------------------ */

typedef struct progress_state {
	uint64_t start_ns;
	uint64_t last_ns;
	bool shown;
} progress_state;
static progress_state g_progress;

uint64_t cli_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void cli_progress(void *payload, uint64_t done, uint64_t total)
{
	const cli *c = payload;
	uint64_t t = cli_now_ns();
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

void cli_progress_clear(void)
{
	if (g_progress.shown)
		fputs("\r\033[K", stderr);
}

void cli_progress_end(const cli *c)
{
	(void)c;
	if (g_progress.shown)
		fputc('\n', stderr);
	memset(&g_progress, 0, sizeof g_progress);
}

/* ------------------------------------------------------------------ */
/* arguments                                                           */
/* ------------------------------------------------------------------ */

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

bool cli_parse_double(const char *s, double *out)
{
	char *end;
	if (s == NULL || *s == '\0')
		return false;
	errno = 0;
	*out = strtod(s, &end);
	return errno == 0 && *end == '\0' && isfinite(*out);
}

bool cli_parse_uint(const char *s, unsigned long long max,
                    unsigned long long *out)
{
	char *end;
	if (s == NULL || *s < '0' || *s > '9')
		return false;
	errno = 0;
	*out = strtoull(s, &end, 10);
	return errno == 0 && *end == '\0' && *out <= max;
}

/* Bad versions are usage errors, reported before any connection. */
int cli_check_selector(const cli *c, const char *sel, bool words_ok)
{
	bool word = strcmp(sel, "production") == 0 || strcmp(sel, "latest") == 0;
	g_selector = words_ok ? sel : NULL;
	if (words_ok && sel[0] == '@') {
		if (ms_alias_check(sel + 1) == MS_OK)
			return 0;
		return cli_usage(c, "invalid alias: \"%.*s\" (1-%d of A-Z a-z 0-9 "
		                 ". _ -, not production, latest or previous)",
		                 MS_ALIAS_MAX + 8, sel + 1, MS_ALIAS_MAX);
	}
	if ((word && words_ok) || ms_model_version_check(sel) == MS_OK)
		return 0;
	return cli_usage(c, "invalid version: \"%.*s\" (1-%d of A-Z a-z 0-9 . _ -%s)",
	                 MS_VERSION_MAX + 8, sel, MS_VERSION_MAX,
	                 words_ok ? ", or production, latest, @ALIAS" : "");
}

/* ------------------------------------------------------------------ */
/* display                                                             */
/* ------------------------------------------------------------------ */

static json_t *num_or_null(double v)
{
	return isnan(v) ? json_null() : json_real(v);
}

static json_t *parse_json_or_empty(const char *t)
{
	json_t *j = t ? json_loads(t, 0, NULL) : NULL;
	return j ? j : json_object();
}

json_t *cli_info_json(const ms_artifact_info *i)
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

const char *cli_safe(char *buf, size_t n, const char *s)
{
	size_t w = 0;
	const unsigned char *p = (const unsigned char *)s;

	for (; *p && w + 5 < n; p++) {
		/* C0 controls, DEL, and the C1 controls as UTF-8 (C2 80..9F):
		 * a stored string must not drive the terminal */
		bool c1 = p[0] == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f;
		if (*p < 0x20 || *p == 0x7f || c1) {
			w += (size_t)snprintf(buf + w, n - w, "\\x%02x",
			                      c1 ? p[1] : p[0]);
			p += c1;
			continue;
		}
		buf[w++] = (char)*p;
	}
	buf[w] = '\0';
	return buf;
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

void cli_fmt_metric(char *buf, size_t n, double v)
{
	if (isnan(v))
		snprintf(buf, n, "-");
	else
		snprintf(buf, n, "%.4g", v);
}
