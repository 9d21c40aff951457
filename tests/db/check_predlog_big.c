/* check_predlog_big.c - large rows (issue 9): every CopyData message and
 * every batch is bounded by bytes, from the queue and from spool replay,
 * so that no batch can reach the server's 1 GiB message limit; and the
 * per-row limit of input_features, at and just past it.
 *
 * The real case (70 rows of 16 MiB, a 1.1 GB batch under 0.1) costs a
 * minute and 1.2 GB of RAM, so these tests lower the bounds through the
 * internal knobs (ms__copy_msg_max, ms__copy_batch_max) and check what
 * the bounds promise; tests/manual/predlog_big70.c runs the real case. */
#define _GNU_SOURCE
#include <dirent.h>
#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "alloc.h"
#include "blob.h"
#include "copy.h"
#include "spool.h"
#include "uuid.h"

#define MSG_MAX ((size_t)64 << 10)
#define BATCH_MAX ((size_t)1 << 20)
#define ROWS 48
#define FEAT_LEN ((size_t)300000)

static ms_predlog *open_log(const char *url, const char *spool)
{
	ms_predlog_options o;
	ms_predlog *pl = NULL;
	ms_buf e = MS_BUF_INIT;
	ms_status st;
	ms_predlog_options_init(&o, MS_PREDLOG_OPTIONS_VERSION);
	o.spool_dir = spool;
	o.flush_interval_ms = 600000; /* batches are cut by size or flush */
	st = ms_predlog_open(&pl, url, &o);
	if (st != MS_OK)
		ms_predlog_last_error(&e, pl);
	ck_assert_msg(st == MS_OK, "open: %s", e.ptr ? e.ptr : "");
	return pl;
}

/* {"a":"ccc..."} of @p len bytes, c = 'a' + i % 26. */
static char *features(size_t len, long i)
{
	char *f = malloc(len + 1);
	ck_assert_ptr_nonnull(f);
	memset(f, 'a' + (int)(i % 26), len);
	memcpy(f, "{\"a\":\"", 6);
	memcpy(f + len - 2, "\"}", 2);
	f[len] = '\0';
	return f;
}

static long sql_long(const char *url, const char *sql)
{
	char *v = mt_sql(url, sql);
	long n;
	ck_assert_msg(v != NULL, "%s", sql);
	n = atol(v);
	free(v);
	return n;
}

/* Every row of model @p name is there once, with its features intact. */
static void assert_rows_intact(const char *url, const char *name, long n,
                               size_t len)
{
	char sql[512];
	snprintf(sql, sizeof sql, "SELECT count(DISTINCT prediction_id) FROM "
	         "model_predictions WHERE model_name = '%s'", name);
	ck_assert_int_eq(sql_long(url, sql), n);
	snprintf(sql, sizeof sql, "SELECT count(*) FROM model_predictions "
	         "WHERE model_name = '%s'", name);
	ck_assert_int_eq(sql_long(url, sql), n);
	snprintf(sql, sizeof sql, "SELECT count(*) FROM model_predictions "
	         "WHERE model_name = '%s' AND input_features->>'a' = repeat(chr("
	         "97 + predicted_value::int %% 26), %zu)", name, len - 8);
	ck_assert_int_eq(sql_long(url, sql), n);
}

static void lower_bounds(void)
{
	ms__copy_msg_max = MSG_MAX;
	ms__copy_batch_max = BATCH_MAX;
}

static void assert_bounds_kept(void)
{
	size_t msg = atomic_load(&ms__copy_sent_msg_max);
	size_t batch = atomic_load(&ms__copy_sent_batch_max);
	ck_assert_msg(msg > 0 && msg <= MSG_MAX, "largest CopyData %zu bytes "
	              "(bound %zu)", msg, MSG_MAX);
	ck_assert_msg(batch > 0 && batch <= BATCH_MAX, "largest batch %zu "
	              "bytes (bound %zu)", batch, BATCH_MAX);
}

/* 48 rows of 300 kB queued at once (14 MB; one batch of 48 rows under
 * 0.1): batches of at most 1 MiB, messages of at most 64 KiB, every row
 * in once, nothing spooled, no connection lost on the way. */
START_TEST(queue_batches_and_messages_bounded)
{
	char *url = mt_migrated_db("predlog_big_queue");
	char *sp = mt_tmpdir(), id[MS_UUID_STRLEN];
	ms_predlog *pl;
	ms_predlog_stats s = MS_PREDLOG_STATS_INIT;
	lower_bounds();
	pl = open_log(url, sp);
	for (long i = 0; i < ROWS; i++) {
		char *f = features(FEAT_LEN, i);
		ms_prediction p = { "big", "v1", f, (double)i, NAN, NAN };
		ck_assert_int_eq(ms_predlog_log(id, pl, &p), MS_OK);
		free(f);
	}
	ck_assert_int_eq(ms_predlog_flush(pl, 120000), MS_OK);
	ms_predlog_stats_get(&s, pl);
	ck_assert_uint_eq(s.written, ROWS);
	ck_assert_uint_eq(s.spooled, 0);
	ck_assert_uint_eq(s.retries, 0);
	/* 3 rows of 300 kB fit in 1 MiB: at least 16 batches */
	ck_assert_uint_ge(s.batches, ROWS / 3);
	assert_bounds_kept();
	ck_assert_int_eq(ms_predlog_close(pl), MS_OK);
	assert_rows_intact(url, "big", ROWS, FEAT_LEN);
	ck_assert_uint_eq(mt_spool_files(sp), 0);
	mt_rmtree(sp);
	free(sp);
	free(url);
}
END_TEST

/* A spool file holding 48 rows of 300 kB in one append (as 0.1 wrote a
 * whole batch) is replayed in batches of at most 1 MiB. */
START_TEST(spool_replay_batches_bounded)
{
	char *url = mt_migrated_db("predlog_big_replay");
	char *sp = mt_tmpdir();
	const void *ptrs[ROWS];
	uint32_t lens[ROWS];
	ms_spool *spool;
	ms_predlog *pl;
	ms_predlog_stats s = MS_PREDLOG_STATS_INIT;
	ms_err e;
	for (long i = 0; i < ROWS; i++) {
		char *f = features(FEAT_LEN, i);
		unsigned char uuid[16], *b;
		ms_blob v = { uuid, "bigspool", "v1", f, 8, 2, (uint32_t)FEAT_LEN,
		              1700000000000000, (double)i, NAN, NAN };
		ms__uuid7(uuid);
		lens[i] = (uint32_t)(MS__BLOB_HDR + 8 + 2 + FEAT_LEN);
		b = malloc(lens[i]);
		ms__blob_pack(b, &v);
		ptrs[i] = b;
		free(f);
	}
	ck_assert_int_eq(ms__spool_new(&spool, &e, sp, (uint64_t)1 << 30),
	                 MS_OK);
	ck_assert_int_eq(ms__spool_append(spool, &e, ptrs, lens, ROWS, true),
	                 MS_OK);
	ms__spool_free(spool);
	for (long i = 0; i < ROWS; i++)
		free((void *)ptrs[i]);
	ck_assert_uint_eq(mt_spool_files(sp), 1);

	lower_bounds();
	pl = open_log(url, sp);
	ck_assert_int_eq(ms_predlog_flush(pl, 120000), MS_OK);
	ms_predlog_stats_get(&s, pl);
	ck_assert_uint_eq(s.replayed, ROWS);
	ck_assert_uint_eq(s.written, ROWS);
	ck_assert_uint_ge(s.batches, ROWS / 3);
	assert_bounds_kept();
	ck_assert_int_eq(ms_predlog_close(pl), MS_OK);
	assert_rows_intact(url, "bigspool", ROWS, FEAT_LEN);
	ck_assert_uint_eq(mt_spool_files(sp), 0);
	mt_rmtree(sp);
	free(sp);
	free(url);
}
END_TEST

/* input_features of exactly the limit (16 MiB) is accepted and lands, at
 * the default bounds; one byte more is refused by log() with MS_EINVAL
 * and a message that names the limit. */
START_TEST(row_limit_at_and_past)
{
	const size_t lim = (size_t)16 << 20;
	char *url = mt_migrated_db("predlog_big_limit");
	char *sp = mt_tmpdir(), id[MS_UUID_STRLEN];
	char *at = features(lim, 1), *past = features(lim + 1, 2);
	ms_prediction p = { "limit", "v1", past, 2.0, NAN, NAN };
	ms_buf e = MS_BUF_INIT;
	ms_predlog_stats s = MS_PREDLOG_STATS_INIT;
	ms_predlog *pl = open_log(url, sp);

	ck_assert_int_eq(ms_predlog_log(id, pl, &p), MS_EINVAL);
	ck_assert_str_eq(id, "");
	ms_predlog_last_error(&e, pl);
	ck_assert_msg(strstr(e.ptr, "16777217 bytes") &&
	              strstr(e.ptr, "at most 16777216"), "%s", e.ptr);
	p.input_features = at;
	p.predicted_value = 1.0;
	ck_assert_int_eq(ms_predlog_log(id, pl, &p), MS_OK);
	ck_assert_int_eq(ms_predlog_flush(pl, 120000), MS_OK);
	ms_predlog_stats_get(&s, pl);
	ck_assert_uint_eq(s.written, 1);
	ck_assert_uint_eq(s.rejected, 1);
	ck_assert_int_eq(ms_predlog_close(pl), MS_OK);
	assert_rows_intact(url, "limit", 1, lim);
	ms_buf_dispose(&e);
	free(at);
	free(past);
	mt_rmtree(sp);
	free(sp);
	free(url);
}
END_TEST

Suite *db_predlog_big_suite(void)
{
	Suite *s = suite_create("db_predlog_big");
	TCase *tc = tcase_create("Big");
	tcase_add_test(tc, queue_batches_and_messages_bounded);
	tcase_add_test(tc, spool_replay_batches_bounded);
	tcase_add_test(tc, row_limit_at_and_past);
	tcase_set_timeout(tc, 600);
	suite_add_tcase(s, tc);
	return s;
}
