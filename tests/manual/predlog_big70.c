/* predlog_big70.c - the issue 9 reproduction by hand: log N rows of S-byte
 * features (default 70 x 16 MiB, a batch whose COPY stream passes 1 GiB),
 * flush, and print the time, the peak RSS, the counters and the rows that
 * landed.  Not part of the suites (it needs ~1.2 GB of RAM and a minute):
 *
 *   cc -O2 -Ilib/include tests/manual/predlog_big70.c \
 *      build/lib/libmodelstore.a $(pkg-config --libs libpq jansson) \
 *      -lcrypto -lz -lpthread -o /tmp/big70
 *   DATABASE_URL=... /tmp/big70 [rows] [bytes] [flush_timeout_ms] [interval_ms]
 */
#define _GNU_SOURCE
#include "modelstore.h"

#include <libpq-fe.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	const char *url = getenv("DATABASE_URL");
	long rows = argc > 1 ? atol(argv[1]) : 70;
	size_t bytes = argc > 2 ? strtoull(argv[2], NULL, 10) : 16u << 20;
	unsigned tmo = argc > 3 ? (unsigned)atol(argv[3]) : 600000;
	unsigned ivl = argc > 4 ? (unsigned)atol(argv[4]) : 600000;
	char *feat = malloc(bytes + 1), id[MS_UUID_STRLEN];
	ms_predlog_options o;
	ms_predlog *pl;
	ms_predlog_stats s = MS_PREDLOG_STATS_INIT;
	ms_buf e = MS_BUF_INIT;
	struct rusage ru;
	double t0, t1, t2;
	ms_status fst;

	memset(feat, 'x', bytes);
	memcpy(feat, "{\"a\":\"", 6);
	memcpy(feat + bytes - 2, "\"}", 2);
	feat[bytes] = '\0';
	ms_predlog_options_init(&o, MS_PREDLOG_OPTIONS_VERSION);
	o.spool_dir = "/tmp/big70-spool";
	o.spool_max_bytes = (uint64_t)8 << 30;
	o.flush_interval_ms = ivl;
	if (ms_predlog_open(&pl, url, &o) != MS_OK)
		return 1;
	t0 = now_s();
	for (long i = 0; i < rows; i++) {
		ms_prediction p = { "big", "v1", feat, (double)i, NAN, NAN };
		if (ms_predlog_log(id, pl, &p) != MS_OK) {
			ms_predlog_last_error(&e, pl);
			fprintf(stderr, "log: %s\n", e.ptr);
			return 1;
		}
	}
	t1 = now_s();
	fst = ms_predlog_flush(pl, tmo);
	t2 = now_s();
	ms_predlog_stats_get(&s, pl);
	ms_predlog_last_error(&e, pl);
	getrusage(RUSAGE_SELF, &ru);
	printf("rows %ld x %zu bytes: log %.2f s, flush %.2f s (%s), peak RSS "
	       "%ld MB\naccepted %llu written %llu spooled %llu replayed %llu "
	       "batches %llu retries %llu\nlast error: %s\n", rows, bytes,
	       t1 - t0, t2 - t1, fst == MS_OK ? "ok" : "NOT ok",
	       ru.ru_maxrss / 1024, (unsigned long long)s.accepted,
	       (unsigned long long)s.written, (unsigned long long)s.spooled,
	       (unsigned long long)s.replayed, (unsigned long long)s.batches,
	       (unsigned long long)s.retries, e.ptr ? e.ptr : "");
	ms_predlog_close(pl);
	{
		PGconn *c = PQconnectdb(url);
		PGresult *r = PQexec(c, "SELECT count(*), count(DISTINCT "
		                        "prediction_id) FROM model_predictions "
		                        "WHERE model_name = 'big'");
		printf("rows in the table: %s (distinct ids %s)\n",
		       PQgetvalue(r, 0, 0), PQgetvalue(r, 0, 1));
		PQclear(r);
		PQfinish(c);
	}
	free(feat);
	return 0;
}
