/* check_predlog_spool.c - spool files of other versions met by a live
 * logger: a version 1 file (modelstore 0.1, little-endian rows) is
 * replayed into the table and removed; a file of an unknown version is
 * refused, named in the last error with what to do, and left in place. */
#define _GNU_SOURCE
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common.h"
#include "spool_golden.h"

#define NAME "pl-01a20000-0000-7000-8000-000000000000.spool"

static char *put_file(const char *dir, const unsigned char *d, size_t n)
{
	char *path = NULL;
	FILE *f;
	ck_assert_int_gt(asprintf(&path, "%s/" NAME, dir), 0);
	f = fopen(path, "wb");
	ck_assert_ptr_nonnull(f);
	ck_assert_uint_eq(fwrite(d, 1, n, f), n);
	fclose(f);
	return path;
}

static ms_predlog *open_log(const char *url, const char *spool)
{
	ms_predlog_options o;
	ms_predlog *pl = NULL;
	ms_predlog_options_init(&o, MS_PREDLOG_OPTIONS_VERSION);
	o.spool_dir = spool;
	ck_assert_int_eq(ms_predlog_open(&pl, url, &o), MS_OK);
	return pl;
}

START_TEST(v1_file_replayed)
{
	char *url = mt_migrated_db("predlog_spool_v1");
	char *dir = mt_tmpdir(), *v;
	char *path = put_file(dir, GOLDEN_V1, sizeof GOLDEN_V1);
	ms_predlog *pl = open_log(url, dir);
	ms_predlog_stats s = MS_PREDLOG_STATS_INIT;
	struct stat st;
	ck_assert_int_eq(ms_predlog_flush(pl, 60000), MS_OK);
	ms_predlog_stats_get(&s, pl);
	ck_assert_uint_eq(s.replayed, 1);
	ck_assert_uint_eq(s.written, 1);
	ck_assert_int_eq(ms_predlog_close(pl), MS_OK);
	ck_assert_int_ne(stat(path, &st), 0);
	v = mt_sql(url, "SELECT prediction_id || '|' || model_name || '|' || "
	           "model_version || '|' || input_features::text || '|' || "
	           "predicted_value || '|' || coalesce(actual_value::text, 'NULL')"
	           " || '|' || confidence_score || '|' || prediction_time "
	           "FROM model_predictions");
	ck_assert_str_eq(v, "10111213-1415-1617-1819-1a1b1c1d1e1f|churn|v1|"
	                 "{\"a\": 1}|1.5|NULL|0.25|2023-11-14 22:13:20.123456");
	free(v);
	free(path);
	mt_rmtree(dir);
	free(dir);
	free(url);
}
END_TEST

START_TEST(unknown_version_left_in_place)
{
	unsigned char img[sizeof GOLDEN_V1];
	char *url = mt_migrated_db("predlog_spool_v9");
	char *dir = mt_tmpdir(), *path, *v;
	ms_predlog *pl;
	ms_buf e = MS_BUF_INIT;
	ms_predlog_stats s = MS_PREDLOG_STATS_INIT;
	struct stat st;
	memcpy(img, GOLDEN_V1, sizeof img);
	img[6] = '9';
	path = put_file(dir, img, sizeof img);
	pl = open_log(url, dir);
	ck_assert_int_eq(ms_predlog_flush(pl, 60000), MS_OK);
	ms_predlog_stats_get(&s, pl);
	ck_assert_uint_eq(s.replayed, 0);
	ck_assert_uint_eq(s.written, 0);
	ck_assert_uint_eq(s.spool_corrupt, 0);
	ms_predlog_last_error(&e, pl);
	ck_assert_msg(strstr(e.ptr, NAME) && strstr(e.ptr, "version 9") &&
	              strstr(e.ptr, "left in place") &&
	              strstr(e.ptr, "predictions import"), "%s", e.ptr);
	ck_assert_int_eq(ms_predlog_close(pl), MS_OK);
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_int_eq(st.st_size, (off_t)sizeof img);
	v = mt_sql(url, "SELECT count(*) FROM model_predictions");
	ck_assert_str_eq(v, "0");
	free(v);
	ms_buf_dispose(&e);
	free(path);
	mt_rmtree(dir);
	free(dir);
	free(url);
}
END_TEST

Suite *db_predlog_spool_suite(void)
{
	Suite *s = suite_create("db_predlog_spool");
	TCase *tc = tcase_create("Versions");
	tcase_add_test(tc, v1_file_replayed);
	tcase_add_test(tc, unknown_version_left_in_place);
	tcase_set_timeout(tc, 120);
	suite_add_tcase(s, tc);
	return s;
}
