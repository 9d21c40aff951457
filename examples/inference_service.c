/*
 * inference_service.c - a small inference service on libmodelstore.
 *
 *   DATABASE_URL=postgresql://... inference_service [--name NAME]
 *                                  [--fallback-dir DIR] [--no-log]
 *
 * At start it loads the production model of every model name (preload),
 * then answers one request per line on stdin: a JSON array of numbers,
 * e.g. `[1.5, 2, 3]`.  The "model" here is a toy: the prediction is a
 * weighted sum whose weights are read from the model's bytes, which is
 * enough to show the shape of a real service:
 *
 *   - every request takes the current production model from the loader
 *     (a cache hit: a hash lookup and a reference count, no copy) and
 *     releases it when done, so a promotion is picked up by the next
 *     request without a restart, while a request in flight keeps the
 *     model it started with;
 *   - if the database is down at start the fallback copy under
 *     --fallback-dir is served, and the database's model is swapped in
 *     when it comes back;
 *   - each prediction is logged through the prediction logger (queued,
 *     never waits on the network), when it is available;
 *   - counters are printed on exit (EOF, SIGINT or SIGTERM).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "modelstore.h"

static volatile sig_atomic_t stopping;

static void on_signal(int sig)
{
	(void)sig;
	stopping = 1;
}

static void on_change(void *payload, const char *name, const char *version)
{
	(void)payload;
	fprintf(stderr, "inference_service: %s: now serving version %s\n", name,
	        version);
}

/* Toy model: weight i is byte i of the model, scaled to [-1, 1). */
static double predict(const ms_model *m, const double *x, size_t n)
{
	const unsigned char *w = ms_model_data(m);
	uint64_t size = ms_model_size(m);
	double y = 0;
	for (size_t i = 0; i < n; i++)
		y += x[i] * (size ? (w[i % size] - 128.0) / 128.0 : 0.0);
	return y;
}

/* Parse "[a, b, c]" into @x (at most @cap numbers); -1 when malformed. */
static long parse_features(const char *line, double *x, size_t cap)
{
	const char *p = strchr(line, '[');
	size_t n = 0;
	if (p == NULL)
		return -1;
	p++;
	for (;;) {
		char *end;
		while (*p == ' ' || *p == '\t')
			p++;
		if (*p == ']')
			return (long)n;
		if (n == cap)
			return -1;
		errno = 0;
		x[n] = strtod(p, &end);
		if (end == p || errno || !isfinite(x[n]))
			return -1;
		n++;
		p = end;
		while (*p == ' ' || *p == '\t')
			p++;
		if (*p == ',')
			p++;
		else if (*p != ']')
			return -1;
	}
}

typedef struct service {
	const char *url, *name, *dir;
	int use_log;
	ms_loader *loader;
	ms_predlog *log;
	long served, failed, log_failed;
} service;

static int parse_args(service *sv, int argc, char **argv)
{
	sv->url = getenv("DATABASE_URL");
	sv->name = MS_DEFAULT_NAME;
	sv->dir = "models";
	sv->use_log = 1;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--name") == 0 && i + 1 < argc)
			sv->name = argv[++i];
		else if (strcmp(argv[i], "--fallback-dir") == 0 && i + 1 < argc)
			sv->dir = argv[++i];
		else if (strcmp(argv[i], "--no-log") == 0)
			sv->use_log = 0;
		else {
			fprintf(stderr, "usage: inference_service [--name NAME] "
			        "[--fallback-dir DIR] [--no-log]\n");
			return 2;
		}
	}
	return 0;
}

static void install_signals(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal; /* no SA_RESTART: getline returns */
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
}

static int open_loader(service *sv)
{
	ms_loader_options lo;
	size_t loaded = 0;
	ms_status rc;

	ms_loader_options_init(&lo, MS_LOADER_OPTIONS_VERSION);
	lo.fallback_dir = sv->dir;
	lo.watch = MS_WATCH_NOTIFY;
	lo.refresh_fallback = 1;
	lo.on_change = on_change;
	if (ms_loader_open(&sv->loader, sv->url, &lo) != MS_OK) {
		fprintf(stderr, "inference_service: cannot start the loader\n");
		return 1;
	}
	rc = ms_loader_preload(&loaded, sv->loader);
	fprintf(stderr, "inference_service: preloaded %zu model%s%s%s\n",
	        loaded, loaded == 1 ? "" : "s", rc == MS_OK ? "" : ": ",
	        rc == MS_OK ? "" : ms_status_str(rc));
	return 0;
}

static void open_logger(service *sv)
{
	ms_predlog_options po;
	if (!sv->use_log)
		return;
	ms_predlog_options_init(&po, MS_PREDLOG_OPTIONS_VERSION);
	po.spool_dir = "spool";
	if (ms_predlog_open(&sv->log, sv->url, &po) != MS_OK) {
		fprintf(stderr, "inference_service: prediction logging "
		        "unavailable; continuing without it\n");
		ms_predlog_close(sv->log);
		sv->log = NULL;
	}
}

/* input_features must be a JSON object: the line's array becomes
 * {"x": [...]}.  A refused row is counted, never silently lost. */
static void log_prediction(service *sv, const char *line, const ms_model *m,
                           double y)
{
	ms_prediction p = { sv->name, ms_model_version(m), NULL, y, NAN, NAN };
	int len = (int)strcspn(line, "\n");
	char *features = NULL;
	ms_status st;

	if (asprintf(&features, "{\"x\":%.*s}", len, line) < 0) {
		sv->log_failed++;
		return;
	}
	p.input_features = features;
	st = ms_predlog_log(NULL, sv->log, &p);
	if (st != MS_OK) {
		ms_buf err = MS_BUF_INIT;
		ms_predlog_last_error(&err, sv->log);
		fprintf(stderr, "inference_service: prediction not logged: %s\n",
		        err.ptr ? err.ptr : ms_status_str(st));
		ms_buf_dispose(&err);
		sv->log_failed++;
	}
	free(features);
}

static void serve_one(service *sv, const char *line)
{
	double x[256], y;
	long n = parse_features(line, x, 256);
	ms_model *m = NULL;
	ms_status s;

	if (n < 0) {
		printf("{\"error\":\"expected a JSON array of numbers\"}\n");
		sv->failed++;
		return;
	}
	s = ms_loader_get(&m, sv->loader, sv->name, "production");
	if (s != MS_OK) {
		ms_buf err = MS_BUF_INIT;
		ms_loader_last_error(&err, sv->loader);
		printf("{\"error\":\"%s\"}\n", ms_status_str(s));
		fprintf(stderr, "inference_service: %s\n", err.ptr ? err.ptr : "");
		ms_buf_dispose(&err);
		sv->failed++;
		return;
	}
	y = predict(m, x, (size_t)n);
	printf("{\"model_version\":\"%s\",\"source\":\"%s\","
	       "\"predicted_value\":%.17g}\n", ms_model_version(m),
	       ms_source_str(ms_model_source(m)), y);
	fflush(stdout);
	if (sv->log)
		log_prediction(sv, line, m, y);
	ms_model_release(m);
	sv->served++;
}

static void print_stats(const service *sv)
{
	ms_loader_stats st = MS_LOADER_STATS_INIT;
	ms_loader_stats_get(&st, sv->loader);
	fprintf(stderr,
	        "inference_service: served %ld, failed %ld; loader: hits %llu, "
	        "misses %llu, db_loads %llu, fallback_loads %llu, reloads %llu, "
	        "entries %llu, bytes_cached %llu, integrity_failures %llu, "
	        "outages %llu\n", sv->served, sv->failed,
	        (unsigned long long)st.hits, (unsigned long long)st.misses,
	        (unsigned long long)st.db_loads,
	        (unsigned long long)st.fallback_loads,
	        (unsigned long long)st.reloads, (unsigned long long)st.entries,
	        (unsigned long long)st.bytes_cached,
	        (unsigned long long)st.integrity_failures,
	        (unsigned long long)st.outages);
	if (sv->log) {
		ms_predlog_stats ps = MS_PREDLOG_STATS_INIT;
		ms_predlog_stats_get(&ps, sv->log);
		fprintf(stderr, "inference_service: predictions: accepted %llu, "
		        "written %llu, spooled %llu, not logged %ld\n",
		        (unsigned long long)ps.accepted,
		        (unsigned long long)ps.written,
		        (unsigned long long)ps.spooled, sv->log_failed);
	}
}

int main(int argc, char **argv)
{
	service sv = { 0 };
	char *line = NULL;
	size_t cap = 0;
	int rc;

	if ((rc = parse_args(&sv, argc, argv)) != 0)
		return rc;
	install_signals();
	if (open_loader(&sv) != 0) {
		ms_loader_close(sv.loader);
		return 1;
	}
	open_logger(&sv);
	while (!stopping && getline(&line, &cap, stdin) > 0)
		serve_one(&sv, line);
	free(line);
	if (sv.log)
		ms_predlog_flush(sv.log, 10000);
	print_stats(&sv);
	if (sv.log && ms_predlog_close(sv.log) != MS_OK)
		fprintf(stderr, "inference_service: some predictions could not "
		        "be kept\n");
	ms_loader_close(sv.loader);
	return sv.failed && !sv.served ? 1 : 0;
}
