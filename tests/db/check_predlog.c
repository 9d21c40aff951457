/* check_predlog.c - the prediction logger against a real server: exactly
 * once through server kills, SIGKILL of a logging process, spill, spool
 * limits, malformed input, damaged spool files, close while down. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common.h"
#include "alloc.h"

#define DOWN_URL "postgresql://postgres@127.0.0.1:1/x"

static const char *FEAT =
	"{\"age\": 42, \"income\": 55000.5, \"tags\": [\"a\", \"b\"], "
	"\"city\": \"Z\\u00fcrich\", \"score\": -0.125, \"flag\": true, "
	"\"nested\": {\"x\": 1, \"y\": [1, 2, 3]}, \"pad\": \"xxxxxxxxxxxxxxxx"
	"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\"}";

static ms_predlog *open_log(const char *url, const char *spool,
                            size_t cap, size_t batch, unsigned interval,
                            uint64_t spool_max)
{
	ms_predlog_options o;
	ms_predlog *pl = NULL;
	ms_buf e = MS_BUF_INIT;
	ms_predlog_options_init(&o, MS_PREDLOG_OPTIONS_VERSION);
	o.spool_dir = spool;
	o.queue_capacity = cap;
	o.batch_size = batch;
	o.flush_interval_ms = interval;
	o.spool_max_bytes = spool_max;
	ms_status st = ms_predlog_open(&pl, url, &o);
	if (st != MS_OK)
		ms_predlog_last_error(&e, pl);
	ck_assert_msg(st == MS_OK, "open: %s", e.ptr ? e.ptr : "");
	return pl;
}

static long count_rows(const char *url, const char *where)
{
	char sql[512];
	char *v;
	long n;
	snprintf(sql, sizeof sql, "SELECT count(*) FROM model_predictions %s",
	         where ? where : "");
	v = mt_sql(url, sql);
	ck_assert_ptr_nonnull(v);
	n = atol(v);
	free(v);
	return n;
}

static ms_status log_one(ms_predlog *pl, char id[MS_UUID_STRLEN], long i)
{
	ms_prediction p;
	p.model_name = (i % 2) ? "churn" : NULL;
	p.model_version = "20240101_000000";
	p.input_features = FEAT;
	p.predicted_value = (double)i * 0.5;
	p.confidence_score = (i % 3) ? 0.9 : NAN;
	p.actual_value = NAN;
	return ms_predlog_log(id, pl, &p);
}

static char *subdir(const char *base, const char *name)
{
	char *s = NULL;
	ck_assert_int_gt(asprintf(&s, "%s/%s", base, name), 0);
	return s;
}

/* ------------------------------------------------------------------ */

START_TEST(basic_rows_and_columns)
{
	char *url = mt_migrated_db("predlog_basic");
	char *tmp = mt_tmpdir(), *sp = subdir(tmp, "spool");
	ms_predlog *pl = open_log(url, sp, 0, 0, 50, 0);
	char id[MS_UUID_STRLEN], first[MS_UUID_STRLEN] = "";
	ms_predlog_stats stats = MS_PREDLOG_STATS_INIT;
	char sql[512], *v;

	for (long i = 0; i < 2000; i++) {
		ck_assert_int_eq(log_one(pl, id, i), MS_OK);
		ck_assert_uint_eq(strlen(id), 36);
		if (i == 3)
			memcpy(first, id, sizeof id);
	}
	ck_assert_int_eq(ms_predlog_flush(pl, 30000), MS_OK);
	ck_assert_int_eq(count_rows(url, NULL), 2000);
	ms_predlog_stats_get(&stats, pl);
	ck_assert_uint_eq(stats.accepted, 2000);
	ck_assert_uint_eq(stats.written, 2000);
	ck_assert_uint_eq(stats.rejected, 0);

	/* columns: name, NULL confidence for NaN, time from the client,
	 * features as jsonb */
	snprintf(sql, sizeof sql,
	         "SELECT model_name || '|' || model_version || '|' || "
	         "predicted_value || '|' || coalesce(confidence_score::text, 'NULL')"
	         " || '|' || (input_features->>'city') || '|' || "
	         "(abs(extract(epoch from prediction_time) - extract(epoch from "
	         "now() at time zone 'UTC')) < 120) FROM model_predictions "
	         "WHERE prediction_id = '%s'", first);
	v = mt_sql(url, sql);
	ck_assert_str_eq(v, "churn|20240101_000000|1.5|NULL|Z\xc3\xbcrich|true");
	free(v);
	/* ids are time-ordered: id order equals insertion order */
	v = mt_sql(url, "SELECT count(*) FROM (SELECT prediction_id, lag("
	                "prediction_id) OVER (ORDER BY id) AS prev FROM "
	                "model_predictions) s WHERE prev > prediction_id");
	ck_assert_str_eq(v, "0");
	free(v);

	/* record actual through the store, then the seed's accuracy query */
	{
		ms_store *s = NULL;
		ck_assert_int_eq(ms_store_open(&s, url, NULL), MS_OK);
		ck_assert_int_eq(ms_store_record_actual(s, first, 2.0), MS_OK);
		ms_store_close(s);
	}
	snprintf(sql, sizeof sql, "SELECT actual_value FROM model_predictions "
	         "WHERE prediction_id = '%s' AND actual_recorded_at IS NOT NULL",
	         first);
	v = mt_sql(url, sql);
	ck_assert_str_eq(v, "2");
	free(v);

	ck_assert_int_eq(ms_predlog_close(pl), MS_OK);
	ck_assert_uint_eq(mt_spool_files(sp), 0);
	mt_rmtree(tmp);
	free(sp);
	free(tmp);
	free(url);
}
END_TEST

START_TEST(malformed_input_is_rejected)
{
	char *url = mt_migrated_db("predlog_bad");
	char *tmp = mt_tmpdir(), *sp = subdir(tmp, "spool");
	ms_predlog *pl = open_log(url, sp, 0, 0, 50, 0);
	char id[MS_UUID_STRLEN];
	ms_prediction p = { NULL, "v1", "{\"a\":1}", 1.0, NAN, NAN };
	ms_buf e = MS_BUF_INIT;
	ms_predlog_stats st = MS_PREDLOG_STATS_INIT;
	const char *bad[] = { "{\"a\":", "[1,2]", "", "{\"a\":\"\\u0000\"}",
	                      "{\"a\":1} trailing", "{\"a\":\"\xff\"}", NULL };

	ck_assert_int_eq(ms_predlog_log(id, pl, &p), MS_OK);
	for (int i = 0; bad[i]; i++) {
		p.input_features = bad[i];
		ck_assert_int_eq(ms_predlog_log(id, pl, &p), MS_EINVAL);
		ck_assert_str_eq(id, "");
	}
	ms_predlog_last_error(&e, pl);
	ck_assert_msg(strstr(e.ptr, "input_features") != NULL, "%s", e.ptr);
	ms_buf_dispose(&e);
	p.input_features = NULL;
	ck_assert_int_eq(ms_predlog_log(id, pl, &p), MS_EINVAL);
	p.input_features = "{}";
	p.model_version = NULL;
	ck_assert_int_eq(ms_predlog_log(id, pl, &p), MS_EINVAL);
	p.model_version = "x123456789x123456789x123456789x123456789x123456789x";
	ck_assert_int_eq(ms_predlog_log(id, pl, &p), MS_EINVAL);
	p.model_version = "v1";
	p.model_name = "bad name; drop table";
	ck_assert_int_eq(ms_predlog_log(id, pl, &p), MS_EINVAL);
	p.model_name = NULL;
	ck_assert_int_eq(ms_predlog_log(id, pl, &p), MS_OK);

	/* A row the server refuses (a CHECK the test adds) never fails its
	 * batch: the others are written, the one is counted. */
	free(mt_sql(url, "ALTER TABLE model_predictions ADD CONSTRAINT "
	                 "no_poison CHECK (model_version <> 'poison')"));
	for (int i = 0; i < 300; i++) {
		p.model_version = i == 150 ? "poison" : "v2";
		ck_assert_int_eq(ms_predlog_log(id, pl, &p), MS_OK);
	}
	ck_assert_int_eq(ms_predlog_flush(pl, 30000), MS_OK);
	ck_assert_int_eq(count_rows(url, NULL), 2 + 299);
	ms_predlog_stats_get(&st, pl);
	ck_assert_uint_eq(st.rejected, 10 + 1);
	ms_predlog_last_error(&e, pl);
	ck_assert_msg(strstr(e.ptr, "rejected by the server") != NULL, "%s",
	              e.ptr);
	ms_buf_dispose(&e);
	ck_assert_int_eq(ms_predlog_close(pl), MS_OK);
	mt_rmtree(tmp);
	free(sp);
	free(tmp);
	free(url);
}
END_TEST

START_TEST(close_while_down_then_replay)
{
	char *url = mt_migrated_db("predlog_down");
	char *tmp = mt_tmpdir(), *sp = subdir(tmp, "spool");
	ms_predlog *pl = open_log(DOWN_URL, sp, 0, 0, 50, 0);
	char id[MS_UUID_STRLEN], some[MS_UUID_STRLEN] = "";
	ms_predlog_stats st = MS_PREDLOG_STATS_INIT;
	char sql[256], *v, *saved;

	for (long i = 0; i < 20000; i++) {
		ck_assert_int_eq(log_one(pl, id, i), MS_OK);
		if (i == 12345)
			memcpy(some, id, sizeof id);
	}
	ck_assert_int_eq(ms_predlog_flush(pl, 30000), MS_OK);
	ms_predlog_stats_get(&st, pl);
	ck_assert_uint_eq(st.spooled, 20000);
	ck_assert_uint_eq(st.written, 0);
	ck_assert_int_eq(ms_predlog_close(pl), MS_OK);
	ck_assert_uint_ge(mt_spool_files(sp), 1);
	/* a copy of the spool as it was before replay, for the second run */
	saved = subdir(tmp, "saved");
	ck_assert_uint_eq(mt_copy_files(sp, saved, "pl-"), mt_spool_files(sp));

	/* the next start replays it */
	pl = open_log(url, sp, 0, 0, 50, 0);
	ck_assert_int_eq(ms_predlog_flush(pl, 60000), MS_OK);
	ms_predlog_stats_get(&st, pl);
	ck_assert_uint_eq(st.replayed, 20000);
	ck_assert_int_eq(ms_predlog_close(pl), MS_OK);
	ck_assert_int_eq(count_rows(url, NULL), 20000);
	ck_assert_uint_eq(mt_spool_files(sp), 0);
	snprintf(sql, sizeof sql, "SELECT count(*) FROM model_predictions "
	         "WHERE prediction_id = '%s'", some);
	v = mt_sql(url, sql);
	ck_assert_str_eq(v, "1");
	free(v);

	/* replaying the same rows again (a crash between commit and unlink)
	 * inserts nothing twice: put the replayed files back and start again */
	ck_assert_uint_ge(mt_copy_files(saved, sp, "pl-"), 1);
	pl = open_log(url, sp, 0, 0, 50, 0);
	ck_assert_int_eq(ms_predlog_flush(pl, 60000), MS_OK);
	ms_predlog_stats_get(&st, pl);
	ck_assert_uint_eq(st.spool_corrupt, 0);
	ck_assert_uint_eq(st.written, 0);
	ck_assert_int_eq(ms_predlog_close(pl), MS_OK);
	ck_assert_uint_eq(mt_spool_files(sp), 0); /* consumed, not left */
	ck_assert_int_eq(count_rows(url, NULL), 20000);
	v = mt_sql(url, "SELECT count(*) FROM (SELECT prediction_id FROM "
	                "model_predictions GROUP BY 1 HAVING count(*) <> 1) s");
	ck_assert_str_eq(v, "0");
	free(v);
	v = mt_sql(url, "SELECT count(DISTINCT prediction_id) FROM "
	                "model_predictions");
	ck_assert_str_eq(v, "20000");
	free(v);
	free(saved);
	mt_rmtree(tmp);
	free(sp);
	free(tmp);
	free(url);
}
END_TEST

START_TEST(queue_full_spills_to_spool)
{
	char *url = mt_migrated_db("predlog_spill");
	char *tmp = mt_tmpdir(), *sp = subdir(tmp, "spool");
	ms_predlog *pl = open_log(url, sp, 64, 32, 1000, 0);
	char id[MS_UUID_STRLEN];
	ms_predlog_stats st = MS_PREDLOG_STATS_INIT;

	for (long i = 0; i < 30000; i++)
		ck_assert_int_eq(log_one(pl, id, i), MS_OK);
	ms_predlog_stats_get(&st, pl);
	ck_assert_msg(st.spooled > 0, "nothing spilled (written %llu)",
	              (unsigned long long)st.written);
	ck_assert_int_eq(ms_predlog_flush(pl, 60000), MS_OK);
	ck_assert_int_eq(count_rows(url, NULL), 30000);
	ms_predlog_stats_get(&st, pl);
	ck_assert_uint_eq(st.accepted, 30000);
	ck_assert_uint_eq(st.dropped_full, 0);
	ck_assert_int_eq(ms_predlog_close(pl), MS_OK);
	ck_assert_uint_eq(mt_spool_files(sp), 0);
	mt_rmtree(tmp);
	free(sp);
	free(tmp);
	free(url);
}
END_TEST

START_TEST(spool_full_is_an_error_never_a_silent_drop)
{
	char *url = mt_migrated_db("predlog_full");
	char *tmp = mt_tmpdir(), *sp = subdir(tmp, "spool");
	ms_predlog *pl = open_log(DOWN_URL, sp, 4, 4, 10, 64 * 1024);
	char id[MS_UUID_STRLEN];
	long ok = 0, full = 0;
	ms_predlog_stats st = MS_PREDLOG_STATS_INIT;
	ms_status cst;

	for (long i = 0; i < 2000; i++) {
		ms_status s = log_one(pl, id, i);
		if (s == MS_OK) {
			ok++;
		} else {
			ck_assert_int_eq(s, MS_EFULL);
			ck_assert_str_eq(id, "");
			full++;
		}
	}
	ck_assert_int_gt(full, 0);
	ms_predlog_stats_get(&st, pl);
	ck_assert_uint_eq(st.dropped_full, (uint64_t)full);
	ck_assert_uint_eq(st.accepted, (uint64_t)ok);
	/* the rows held in the queue have nowhere to go: close says so */
	cst = ms_predlog_close(pl);
	ck_assert(cst == MS_OK || cst == MS_EFULL);

	pl = open_log(url, sp, 0, 0, 50, 0);
	ck_assert_int_eq(ms_predlog_flush(pl, 60000), MS_OK);
	ck_assert_int_eq(ms_predlog_close(pl), MS_OK);
	{
		long n = count_rows(url, NULL);
		/* at most the queue (4) plus one held batch (4) were lost, and
		 * only when close reported it */
		ck_assert_int_le(n, ok);
		ck_assert_int_ge(n, ok - 8);
		if (cst == MS_OK)
			ck_assert_int_eq(n, ok);
	}
	mt_rmtree(tmp);
	free(sp);
	free(tmp);
	free(url);
}
END_TEST

START_TEST(torn_and_corrupt_spool_records)
{
	char *url = mt_migrated_db("predlog_torn");
	char *tmp = mt_tmpdir(), *sp = subdir(tmp, "spool");
	ms_predlog *pl = open_log(DOWN_URL, sp, 0, 0, 50, 0);
	char id[MS_UUID_STRLEN], path[1024];
	ms_predlog_stats st = MS_PREDLOG_STATS_INIT;
	ms_buf e = MS_BUF_INIT;
	DIR *d;
	struct dirent *de;
	unsigned char *img;
	size_t size, off, nrec = 0;
	FILE *f;

	for (long i = 0; i < 100; i++)
		ck_assert_int_eq(log_one(pl, id, i), MS_OK);
	ck_assert_int_eq(ms_predlog_close(pl), MS_OK);
	ck_assert_uint_eq(mt_spool_files(sp), 1);
	d = opendir(sp);
	while ((de = readdir(d)))
		if (strncmp(de->d_name, "pl-", 3) == 0)
			snprintf(path, sizeof path, "%s/%s", sp, de->d_name);
	closedir(d);

	/* flip one byte inside the 50th record's payload, then append half
	 * of a copy of the first record (a torn write) */
	f = fopen(path, "rb");
	fseek(f, 0, SEEK_END);
	size = (size_t)ftell(f);
	rewind(f);
	img = malloc(size + 4096);
	ck_assert_uint_eq(fread(img, 1, size, f), size);
	fclose(f);
	off = 8;
	while (off < size && nrec < 49) {
		uint32_t len;
		memcpy(&len, img + off + 4, 4);
		off += 12 + len;
		nrec++;
	}
	img[off + 12 + 20] ^= 0x5a;
	{
		uint32_t len0;
		memcpy(&len0, img + 8 + 4, 4);
		memcpy(img + size, img + 8, (12 + len0) / 2);
		size += (12 + len0) / 2;
	}
	f = fopen(path, "wb");
	ck_assert_uint_eq(fwrite(img, 1, size, f), size);
	fclose(f);
	free(img);

	pl = open_log(url, sp, 0, 0, 50, 0);
	ck_assert_int_eq(ms_predlog_flush(pl, 60000), MS_OK);
	ms_predlog_stats_get(&st, pl);
	ck_assert_uint_eq(st.spool_corrupt, 1);
	ck_assert_uint_eq(st.replayed, 99);
	ms_predlog_last_error(&e, pl);
	ck_assert_msg(strstr(e.ptr, "spool") != NULL, "%s", e.ptr);
	ms_buf_dispose(&e);
	ck_assert_int_eq(ms_predlog_close(pl), MS_OK);
	ck_assert_int_eq(count_rows(url, NULL), 99);
	ck_assert_uint_eq(mt_spool_files(sp), 0);
	mt_rmtree(tmp);
	free(sp);
	free(tmp);
	free(url);
}
END_TEST

/* A child logs with the database down (everything spooled), reports how
 * many rows were fsync'd (after a flush), keeps logging, and is killed
 * with SIGKILL.  The next process replays at least those rows. */
START_TEST(sigkill_child_spool_is_replayed)
{
	char *url = mt_migrated_db("predlog_sigkill");
	char *tmp = mt_tmpdir(), *sp = subdir(tmp, "spool");
	int pfd[2];
	pid_t pid;
	long synced = 0;
	ms_predlog *pl;

	ck_assert_int_eq(pipe(pfd), 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		ms_predlog_options o;
		ms_predlog *c = NULL;
		char id[MS_UUID_STRLEN];
		close(pfd[0]);
		ms_predlog_options_init(&o, MS_PREDLOG_OPTIONS_VERSION);
		o.spool_dir = sp;
		o.flush_interval_ms = 20;
		if (ms_predlog_open(&c, DOWN_URL, &o) != MS_OK)
			_exit(2);
		for (long i = 0;; i++) {
			if (log_one(c, id, i) != MS_OK)
				_exit(3);
			if (i == 30000) {
				long n = i + 1;
				if (ms_predlog_flush(c, 30000) != MS_OK)
					_exit(4);
				(void)!write(pfd[1], &n, sizeof n);
			}
			if (i == 35000) {
				long n = i + 1; /* well into unsynced rows */
				(void)!write(pfd[1], &n, sizeof n);
			}
			if (i == 200000)
				for (;;)
					pause(); /* the parent's SIGKILL ends it */
		}
	}
	close(pfd[1]);
	ck_assert_int_eq(read(pfd[0], &synced, sizeof synced), sizeof synced);
	{
		long logged;
		ck_assert_int_eq(read(pfd[0], &logged, sizeof logged),
		                 sizeof logged);
	}
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	close(pfd[0]);

	pl = open_log(url, sp, 0, 0, 50, 0);
	ck_assert_int_eq(ms_predlog_flush(pl, 60000), MS_OK);
	ck_assert_int_eq(ms_predlog_close(pl), MS_OK);
	{
		long n = count_rows(url, NULL), present;
		char sql[256], *v;
		ck_assert_msg(n >= synced, "replayed %ld < fsync'd %ld", n, synced);
		/* no row twice */
		v = mt_sql(url, "SELECT count(DISTINCT prediction_id) FROM "
		                "model_predictions");
		ck_assert_int_eq(atol(v), n);
		free(v);
		/* every row the child had flushed (rows 0 .. synced-1, told
		 * apart by predicted_value = i / 2) is there, exactly once */
		snprintf(sql, sizeof sql, "SELECT count(DISTINCT predicted_value) "
		         "FROM model_predictions WHERE predicted_value * 2 < %ld",
		         synced);
		v = mt_sql(url, sql);
		present = atol(v);
		free(v);
		ck_assert_msg(present == synced,
		              "%ld of the %ld fsync'd rows replayed", present,
		              synced);
		/* and nothing but what the child logged: one row per value */
		v = mt_sql(url, "SELECT count(*) FROM (SELECT predicted_value "
		                "FROM model_predictions GROUP BY 1 HAVING "
		                "count(*) <> 1) s");
		ck_assert_str_eq(v, "0");
		free(v);
		fprintf(stderr, "sigkill: fsync'd %ld, replayed %ld, "
		        "duplicates 0\n", synced, n);
	}
	ck_assert_uint_eq(mt_spool_files(sp), 0);
	mt_rmtree(tmp);
	free(sp);
	free(tmp);
	free(url);
}
END_TEST

/* ------------------------------------------------------------------ */
/* 1 000 000 predictions, server killed (-m immediate) twice            */
/* ------------------------------------------------------------------ */

/* 1 000 000 by default; the ThreadSanitizer run (10x slower) sets
 * MS_TEST_KILL_ROWS lower, still through two kills. */
static long kill_rows(void)
{
	const char *e = getenv("MS_TEST_KILL_ROWS");
	long n = e ? atol(e) : 0;
	return n >= 10000 ? n : 1000000L;
}
#define KILL_ROWS kill_rows()

typedef struct producer {
	ms_predlog *pl;
	long from, to;
	long errors;
	_Atomic long *done;
} producer;

static void *produce(void *arg)
{
	producer *pr = arg;
	char id[MS_UUID_STRLEN];
	struct timespec t0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (long i = pr->from; i < pr->to; i++) {
		if (log_one(pr->pl, id, i) != MS_OK)
			pr->errors++;
		atomic_fetch_add(pr->done, 1);
		/* pace at ~40k rows/s per producer so the kills land mid-run
		 * (a rate, not a synchronisation: the parent waits on what
		 * the logger reports) */
		if (i % 400 == 0) {
			struct timespec now;
			clock_gettime(CLOCK_MONOTONIC, &now);
			double el = (double)(now.tv_sec - t0.tv_sec) +
			            (double)(now.tv_nsec - t0.tv_nsec) / 1e9;
			double want = (double)(i - pr->from) / 40000.0;
			if (want > el)
				usleep((useconds_t)((want - el) * 1e6));
		}
	}
	return NULL;
}

START_TEST(million_rows_through_two_server_kills)
{
	char *url = mt_migrated_db("predlog_kill");
	char *tmp = mt_tmpdir(), *sp = subdir(tmp, "spool");
	ms_predlog *pl = open_log(url, sp, 0, 0, 100, 0);
	_Atomic long done = 0;
	producer pr[2];
	pthread_t th[2];
	ms_predlog_stats st = MS_PREDLOG_STATS_INIT;
	long n = 0;
	uint64_t outage_spooled = 0;
	int outages_seen = 0;
	long extra = 0; /* rows the test logged itself while waiting */
	char id[MS_UUID_STRLEN];
	char *v;
	ms_buf err = MS_BUF_INIT;

	for (int i = 0; i < 2; i++) {
		pr[i].pl = pl;
		pr[i].from = i * (KILL_ROWS / 2);
		pr[i].to = (i + 1) * (KILL_ROWS / 2);
		pr[i].errors = 0;
		pr[i].done = &done;
		pthread_create(&th[i], NULL, produce, &pr[i]);
	}
	for (int k = 0; k < 2; k++) {
		long at = (k + 1) * KILL_ROWS / 3;
		ms_predlog_stats before = MS_PREDLOG_STATS_INIT;
		ms_predlog_stats now = MS_PREDLOG_STATS_INIT;
		double t0;
		while (atomic_load(&done) < at)
			mt_poll_pause(10);
		ms_predlog_stats_get(&before, pl);
		ck_assert_int_eq(mt_harness("kill"), 0);
		/* the server stays down until the logger has seen the outage:
		 * rows it could not send went to the spool */
		t0 = mt_now();
		for (;;) {
			ms_predlog_stats_get(&now, pl);
			if (now.spooled > before.spooled)
				break;
			/* the producers may be done (slow sanitizer builds): a row
			 * of our own gives the writer something to send */
			ck_assert_int_eq(log_one(pl, id, KILL_ROWS + extra), MS_OK);
			extra++;
			ck_assert_msg(mt_now() - t0 < 30, "kill %d: the logger never "
			              "saw the outage (spooled %llu, retries %llu)", k,
			              (unsigned long long)now.spooled,
			              (unsigned long long)now.retries);
			mt_poll_pause(5);
		}
		outage_spooled += now.spooled - before.spooled;
		outages_seen++;
		ck_assert_int_eq(mt_harness("restart"), 0);
	}
	for (int i = 0; i < 2; i++) {
		pthread_join(th[i], NULL);
		ck_assert_int_eq(pr[i].errors, 0);
	}
	ck_assert_int_eq(ms_predlog_flush(pl, 120000), MS_OK);
	ms_predlog_stats_get(&st, pl);
	fprintf(stderr, "kill test: accepted %llu written %llu spooled %llu "
	        "replayed %llu retries %llu batches %llu\n",
	        (unsigned long long)st.accepted, (unsigned long long)st.written,
	        (unsigned long long)st.spooled, (unsigned long long)st.replayed,
	        (unsigned long long)st.retries, (unsigned long long)st.batches);
	fprintf(stderr, "kill test: both outages seen (%d), %llu rows spooled "
	        "while the server was down\n", outages_seen,
	        (unsigned long long)outage_spooled);
	/* the outages went through the spool and back */
	ck_assert_int_eq(outages_seen, 2);
	ck_assert_uint_ge(st.spooled, outage_spooled);
	/* flush settles the queue (spooled counts as settled); the replay
	 * of the spool goes on in the writer: wait until it has it all */
	{
		double t0 = mt_now();
		while (st.replayed < st.spooled) {
			ck_assert_msg(mt_now() - t0 < 120, "replayed %llu of %llu "
			              "spooled rows", (unsigned long long)st.replayed,
			              (unsigned long long)st.spooled);
			mt_poll_pause(20);
			ms_predlog_stats_get(&st, pl);
		}
	}
	ck_assert_uint_eq(st.replayed, st.spooled);
	ck_assert_uint_eq(st.written, (uint64_t)(KILL_ROWS + extra)); /* replayed included */
	ms_predlog_last_error(&err, pl);
	ck_assert_msg(err.ptr && err.ptr[0] != '\0', "no error recorded for "
	              "the outages");
	ms_buf_dispose(&err);
	ck_assert_int_eq(ms_predlog_close(pl), MS_OK);
	n = count_rows(url, NULL);
	ck_assert_int_eq(n, KILL_ROWS + extra);
	v = mt_sql(url, "SELECT count(DISTINCT prediction_id) FROM "
	                "model_predictions");
	ck_assert_int_eq(atol(v), KILL_ROWS + extra);
	free(v);
	/* every produced row, by its predicted value, exactly once */
	v = mt_sql(url, "SELECT count(*) FROM (SELECT predicted_value FROM "
	                "model_predictions GROUP BY 1 HAVING count(*) <> 1) s");
	ck_assert_str_eq(v, "0");
	free(v);
	ck_assert_uint_eq(mt_spool_files(sp), 0);
	mt_rmtree(tmp);
	free(sp);
	free(tmp);
	free(url);
}
END_TEST


/* One logger session (open, 20 rows, flush, close) with the Nth
 * allocation of @p scope failing (every one after it too when
 * @p persistent).  Rows carry predicted_value = @p base + i.  Every call
 * returns MS_OK or MS_ENOMEM; flush may also time out, close may report
 * rows it could neither write nor spool (MS_EFULL / MS_ENOMEM).
 * Returns whether the countdown was reached. */
typedef struct alloc_run {
	long accepted;   /* rows ms_predlog_log took (MS_OK) */
	bool close_ok;   /* close said nothing was lost */
} alloc_run;

static bool alloc_session(const char *url, const char *sp, long n,
                          ms__fault_scope scope, bool persistent, long base,
                          alloc_run *run)
{
	ms_predlog_options o;
	ms_predlog *pl = NULL;
	char id[MS_UUID_STRLEN];
	ms_status st;
	bool reached;
	run->accepted = 0;
	run->close_ok = true;
	ms_predlog_options_init(&o, MS_PREDLOG_OPTIONS_VERSION);
	o.spool_dir = sp;
	o.flush_interval_ms = 20;
	ms__fault_alloc_arm(n, scope, persistent);
	st = ms_predlog_open(&pl, url, &o);
	if (st != MS_OK) {
		ck_assert_msg(st == MS_ENOMEM, "open at %ld: %d", n, st);
		ms_predlog_close(pl);
		reached = ms__fault_alloc_failed() > 0;
		ms__fault_alloc_arm(0, MS__FAULT_ANY, false);
		ck_assert_msg(reached, "open failed at %ld without a fault", n);
		return true;
	}
	for (long i = 0; i < 20; i++) {
		ms_prediction p = { NULL, "v1", FEAT, (double)(base + i), 0.5, NAN };
		st = ms_predlog_log(id, pl, &p);
		if (st == MS_OK)
			run->accepted++;
		else
			ck_assert_msg(st == MS_ENOMEM, "log at %ld: %d", n, st);
	}
	st = ms_predlog_flush(pl, 5000);
	ck_assert_msg(st == MS_OK || st == MS_ENOMEM || st == MS_ETIMEDOUT,
	              "flush at %ld: %d", n, st);
	st = ms_predlog_close(pl);
	ck_assert_msg(st == MS_OK || st == MS_ENOMEM || st == MS_EFULL,
	              "close at %ld: %d", n, st);
	run->close_ok = st == MS_OK;
	reached = ms__fault_alloc_failed() > 0;
	ms__fault_alloc_arm(0, MS__FAULT_ANY, false);
	if (!reached)
		ck_assert_msg(run->close_ok && run->accepted == 20,
		              "no fault at %ld, yet close %d, %ld rows", n, st,
		              run->accepted);
	return reached;
}

/* Fail the Nth allocation for N = 1, 2, ... until the countdown is no
 * longer reached, once in the calling thread (open, log, flush, close)
 * and once in the writer thread (writing, and spooling with the
 * database down), each deterministic; then the same with
 * every allocation after the Nth failing.  Every row that got MS_OK ends
 * up in the table exactly once (after a clean replay of whatever was
 * spooled), unless close reported a loss; then at most once. */
START_TEST(allocation_failures_never_lose_an_accepted_row)
{
	static const struct { ms__fault_scope scope; bool persistent, down;
	                      const char *name; } modes[] = {
		{ MS__FAULT_CALLER, false, false, "caller, once" },
		{ MS__FAULT_OTHERS, false, false, "writer, once" },
		{ MS__FAULT_OTHERS, false, true, "writer spooling, once" },
		{ MS__FAULT_CALLER, true, false, "caller, persistent" },
		{ MS__FAULT_OTHERS, true, false, "writer, persistent" },
		{ MS__FAULT_OTHERS, true, true, "writer spooling, persistent" },
	};
	const size_t nmodes = sizeof modes / sizeof modes[0];
	enum { LIMIT = 3000 };
	char *url = mt_migrated_db("predlog_alloc");
	char *tmp = mt_tmpdir(), *sp = subdir(tmp, "spool");
	alloc_run *runs = calloc(nmodes * LIMIT, sizeof *runs);
	long nsess = 0, accepted = 0, reported_lossy = 0;

	for (size_t m = 0; m < nmodes; m++) {
		long n, lossy = reported_lossy;
		for (n = 1; n < LIMIT; n++) {
			bool reached = alloc_session(modes[m].down ? DOWN_URL : url,
			                             sp, n, modes[m].scope,
			                             modes[m].persistent,
			                             nsess * 100, &runs[nsess]);
			accepted += runs[nsess].accepted;
			reported_lossy += !runs[nsess].close_ok;
			nsess++;
			if (!reached)
				break;
		}
		ck_assert_msg(n < LIMIT, "%s: still failing at %d", modes[m].name,
		              LIMIT);
		ck_assert_msg(n > 1, "%s: not one allocation failed",
		              modes[m].name);
		lossy = reported_lossy - lossy;
		fprintf(stderr, "allocation loop, %s: %ld allocations failed in "
		        "turn, the run with N = %ld allocated fewer; %ld closes "
		        "reported a loss\n", modes[m].name, n - 1, n, lossy);
		/* one failed allocation is never a reason to lose a row */
		if (!modes[m].persistent)
			ck_assert_msg(lossy == 0, "%s: %ld sessions lost rows",
			              modes[m].name, lossy);
	}
	/* replay anything spooled along the way, with allocation working */
	ms_predlog *pl = open_log(url, sp, 0, 0, 20, 0);
	ck_assert_int_eq(ms_predlog_flush(pl, 60000), MS_OK);
	ck_assert_int_eq(ms_predlog_close(pl), MS_OK);
	ck_assert_int_gt(accepted, 0);
	{
		/* per session: rows found, each value at most once */
		char *v = mt_sql(url, "SELECT count(*) FROM (SELECT "
		                 "predicted_value FROM model_predictions GROUP BY "
		                 "1 HAVING count(*) <> 1) s");
		long *found = calloc((size_t)nsess, sizeof *found);
		char *agg, *p;
		long total = 0;
		ck_assert_str_eq(v, "0");
		free(v);
		agg = mt_sql(url, "SELECT coalesce(string_agg(k || ':' || c, ','),"
		             " '') FROM (SELECT (predicted_value::bigint / 100) k, "
		             "count(*) c FROM model_predictions GROUP BY 1) s");
		ck_assert_ptr_nonnull(agg);
		for (p = agg; *p;) {
			long k = strtol(p, &p, 10), c;
			ck_assert_int_eq(*p, ':');
			c = strtol(p + 1, &p, 10);
			ck_assert(k >= 0 && k < nsess);
			found[k] = c;
			if (*p == ',')
				p++;
		}
		free(agg);
		for (long k = 0; k < nsess; k++) {
			if (runs[k].close_ok)
				ck_assert_msg(found[k] == runs[k].accepted, "session %ld:"
				              " %ld rows accepted, %ld in the table", k,
				              runs[k].accepted, found[k]);
			else
				ck_assert_int_le(found[k], runs[k].accepted);
			total += found[k];
		}
		fprintf(stderr, "allocation loop: %ld sessions, %ld rows accepted,"
		        " %ld in the table, %ld closes reported a loss\n", nsess,
		        accepted, total, reported_lossy);
		free(found);
	}
	char *v = mt_sql(url, "SELECT count(*) - count(DISTINCT prediction_id)"
	                 " FROM model_predictions");
	ck_assert_str_eq(v, "0");
	free(v);
	free(runs);
	mt_rmtree(tmp);
	free(sp);
	free(tmp);
	free(url);
}
END_TEST

Suite *db_predlog_suite(void)
{
	Suite *s = suite_create("db_predlog");
	TCase *tc = tcase_create("predlog");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, basic_rows_and_columns);
	tcase_add_test(tc, malformed_input_is_rejected);
	tcase_add_test(tc, close_while_down_then_replay);
	tcase_add_test(tc, queue_full_spills_to_spool);
	tcase_add_test(tc, spool_full_is_an_error_never_a_silent_drop);
	tcase_add_test(tc, torn_and_corrupt_spool_records);
	tcase_add_test(tc, sigkill_child_spool_is_replayed);
	tcase_add_test(tc, allocation_failures_never_lose_an_accepted_row);
	suite_add_tcase(s, tc);
	tc = tcase_create("kill");
	tcase_set_timeout(tc, 400);
	tcase_add_test(tc, million_rows_through_two_server_kills);
	suite_add_tcase(s, tc);
	return s;
}
