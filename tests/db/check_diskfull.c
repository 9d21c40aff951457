/* check_diskfull.c - a full disk (a 2 MiB tmpfs the suite mounts) under
 * the spool, `pull -o`, `export` and `report --html`: a clean error that
 * names the problem, exit 1 (file I/O: not 3, 4 or 5), nothing partial or
 * corrupt left, the previous file intact, and for the spool the exact
 * number of rows lost.  Mounting needs root (CI runs as root); otherwise
 * the suite reports itself skipped (exit 77, CTest SKIP_RETURN_CODE). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common.h"

#define NOSPACE "No space left on device"

/* The tmpfs: mounted once by the parent (an unchecked fixture), so that
 * it is unmounted even when a test fails in its forked child; each test
 * starts by emptying it. */
static char *mnt;

static void mount_fixture(void)
{
	char cmd[512];
	mnt = mt_tmpdir();
	snprintf(cmd, sizeof cmd, "mount -t tmpfs -o size=2m tmpfs '%s'", mnt);
	ck_assert_msg(system(cmd) == 0, "cannot mount a tmpfs on %s", mnt);
}

static void umount_fixture(void)
{
	char cmd[512];
	if (mnt == NULL)
		return;
	snprintf(cmd, sizeof cmd, "umount '%s'", mnt);
	if (system(cmd) == 0)
		mt_rmtree(mnt);
	free(mnt);
	mnt = NULL;
}

static void empty_tmpfs(void)
{
	char cmd[512];
	ck_assert_ptr_nonnull(mnt);
	snprintf(cmd, sizeof cmd, "find '%s' -mindepth 1 -delete", mnt);
	ck_assert_int_eq(system(cmd), 0);
}

/* Fill the tmpfs with a filler file until ENOSPC, then give back @leave
 * bytes (0: the disk stays full). */
static void fill_disk(size_t leave)
{
	char path[4096];
	static char buf[65536];
	int fd;
	snprintf(path, sizeof path, "%s/filler", mnt);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	ck_assert_int_ge(fd, 0);
	memset(buf, 'f', sizeof buf);
	for (;;) {
		ssize_t w = write(fd, buf, sizeof buf);
		if (w < 0) {
			ck_assert_int_eq(errno, ENOSPC);
			break;
		}
	}
	for (size_t small = 4096; small > 0; small /= 2) /* the last pages */
		while (write(fd, buf, small) > 0)
			;
	if (leave > 0) {
		off_t end = lseek(fd, 0, SEEK_END);
		ck_assert_int_eq(ftruncate(fd, end - (off_t)leave), 0);
	}
	close(fd);
}

static void unfill_disk(void)
{
	char path[4096];
	snprintf(path, sizeof path, "%s/filler", mnt);
	unlink(path);
}

/* "name size sha256" of every file under @dir, sorted: a snapshot. */
static char *snapshot(const char *dir)
{
	char *out = NULL;
	char script[4096];
	const char *argv[] = { "/bin/sh", "-c", script, NULL };
	snprintf(script, sizeof script, "cd '%s' && find . ! -name filler "
	         "\\( -type f -o -type l \\) -print | sort | while read -r f; "
	         "do printf '%%s ' \"$f\"; sha256sum < \"$f\"; done", dir);
	ck_assert_int_eq(mt_run(argv, NULL, NULL, 0, &out, NULL), 0);
	return out;
}

static int cli(const char *url, const char *const args[], char **err)
{
	const char *argv[16];
	size_t n = 0;
	argv[n++] = mt_cli();
	argv[n++] = "--db";
	argv[n++] = url;
	while (*args && n < 15)
		argv[n++] = *args++;
	argv[n] = NULL;
	return mt_run(argv, NULL, NULL, 0, NULL, err);
}

static void expect_disk_full(int rc, char *err, const char *what,
                             const char *names)
{
	ck_assert_msg(rc == 1, "%s on a full disk: exit %d (%s)", what, rc, err);
	ck_assert_msg(strstr(err, NOSPACE) != NULL, "%s: no ENOSPC in \"%s\"",
	              what, err);
	ck_assert_msg(strstr(err, names) != NULL, "%s: \"%s\" does not name %s",
	              what, err, names);
	ck_assert_msg(strchr(err, '\n') == strrchr(err, '\n'), "%s: more than "
	              "one line: %s", what, err);
}

START_TEST(pull_onto_full_disk)
{
	char *url = mt_migrated_db("df_pull"), *err = NULL, *before, *after;
	char out[4096];
	empty_tmpfs();
	mt_push(url, "default", "small", 100000, 1, 0);
	mt_push(url, "default", "big", 3u << 20, 2, 0);
	snprintf(out, sizeof out, "%s/model.bin", mnt);
	{
		const char *a[] = { "pull", "small", "-o", out, "-q", NULL };
		ck_assert_int_eq(cli(url, a, NULL), 0);
	}
	before = snapshot(mnt);
	fill_disk(256 << 10);
	{
		const char *a[] = { "pull", "big", "-o", out, "--force", "-q", NULL };
		int rc = cli(url, a, &err);
		expect_disk_full(rc, err, "pull", out);
	}
	after = snapshot(mnt);
	ck_assert_str_eq(after, before); /* the old file, and nothing else */
	free(err);
	free(before);
	free(after);
	unfill_disk();
	free(url);
}
END_TEST

START_TEST(export_onto_full_disk)
{
	char *url = mt_migrated_db("df_export"), *err = NULL, *before, *after;
	char dir[4096];
	empty_tmpfs();
	mt_push(url, "default", "small", 100000, 3, 1);
	mt_push(url, "default", "big", 3u << 20, 4, 0);
	snprintf(dir, sizeof dir, "%s/fallback", mnt);
	{
		const char *a[] = { "export", "--dir", dir, "small", NULL };
		ck_assert_int_eq(cli(url, a, NULL), 0);
	}
	before = snapshot(mnt);
	fill_disk(256 << 10);
	{
		const char *a[] = { "export", "--dir", dir, "big", NULL };
		int rc = cli(url, a, &err);
		expect_disk_full(rc, err, "export", dir);
	}
	after = snapshot(mnt);
	ck_assert_str_eq(after, before); /* the old pair, and nothing else */
	free(err);
	free(before);
	free(after);
	unfill_disk();
	free(url);
}
END_TEST

START_TEST(report_onto_full_disk)
{
	char *url = mt_migrated_db("df_report"), *err = NULL, *before, *after;
	char out[4096];
	empty_tmpfs();
	for (int i = 0; i < 20; i++) {
		char v[32];
		snprintf(v, sizeof v, "v%02d", i);
		mt_push(url, "default", v, 1000, (unsigned)i, 1);
	}
	snprintf(out, sizeof out, "%s/report.html", mnt);
	{
		const char *a[] = { "report", "--html", out, NULL };
		ck_assert_int_eq(cli(url, a, NULL), 0);
	}
	before = snapshot(mnt);
	fill_disk(0);
	{
		const char *a[] = { "report", "--html", out, NULL };
		int rc = cli(url, a, &err);
		expect_disk_full(rc, err, "report", out);
	}
	after = snapshot(mnt);
	ck_assert_str_eq(after, before);
	free(err);
	free(before);
	free(after);
	unfill_disk();
	free(url);
}
END_TEST

/* The logger with the database down spools until the disk is full.  Then
 * ms_predlog_log refuses new rows (MS_EFULL, counted in dropped_full: the
 * caller knows); the rows accepted but neither written nor spooled are
 * the loss, exactly accepted - spooled - written from the stats, and
 * close says MS_EFULL.  Whatever was spooled replays whole: nothing
 * corrupt, no temp file left. */
START_TEST(spool_onto_full_disk)
{
	char *url = mt_migrated_db("df_spool");
	char *down = mt_refused_url(), sp[4096];
	ms_predlog_options o;
	ms_predlog *pl = NULL;
	ms_predlog_stats st = MS_PREDLOG_STATS_INIT;
	ms_buf e = MS_BUF_INIT;
	char id[MS_UUID_STRLEN];
	long refused = 0, lost, tried = 0;
	empty_tmpfs();
	snprintf(sp, sizeof sp, "%s/spool", mnt);
	ms_predlog_options_init(&o, MS_PREDLOG_OPTIONS_VERSION);
	o.spool_dir = sp;
	o.queue_capacity = 256;
	o.batch_size = 64;
	o.flush_interval_ms = 10;
	ck_assert_int_eq(ms_predlog_open(&pl, down, &o), MS_OK);
	for (long i = 0; i < 40000 && refused < 100; i++) {
		ms_prediction p = { NULL, "v1", "{\"pad\": \"xxxxxxxxxxxxxxxxxxxxx"
		                    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
		                    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\"}",
		                    (double)i, NAN, NAN };
		ms_status s = ms_predlog_log(id, pl, &p);
		tried++;
		if (s != MS_OK) {
			/* refused, the caller told: the queue is full and the
			 * spill to the spool failed (MS_EIO), or over the limit */
			ck_assert_msg(s == MS_EFULL || s == MS_EIO, "log: %d", s);
			ck_assert_str_eq(id, "");
			refused++;
		}
	}
	ck_assert_msg(refused > 0, "the disk never filled");
	/* the error names the problem (read before flush, whose timeout
	 * becomes the last error) */
	ms_predlog_last_error(&e, pl);
	ck_assert_msg(strstr(e.ptr, NOSPACE) && strstr(e.ptr, "spool"),
	              "last error: %s", e.ptr);
	fprintf(stderr, "spool on a full disk: last error \"%s\"\n", e.ptr);
	ms_buf_dispose(&e);
	ck_assert_int_ne(ms_predlog_flush(pl, 2000), MS_OK);
	ms_predlog_stats_get(&st, pl);
	/* a refused row was never accepted: the caller was told */
	ck_assert_uint_eq(st.accepted, (uint64_t)(tried - refused));
	lost = (long)(st.accepted - st.spooled - st.written);
	ck_assert_int_gt(lost, 0);
	ck_assert_int_eq(ms_predlog_close(pl), MS_EFULL);
	/* no temp file left behind */
	{
		char *snap = snapshot(sp);
		ck_assert_msg(strstr(snap, ".tmp") == NULL, "left: %s", snap);
		free(snap);
	}
	/* what was spooled replays whole */
	ck_assert_int_eq(ms_predlog_open(&pl, url, &o), MS_OK);
	ck_assert_int_eq(ms_predlog_flush(pl, 60000), MS_OK);
	{
		ms_predlog_stats r = MS_PREDLOG_STATS_INIT;
		char *v;
		ms_predlog_stats_get(&r, pl);
		ck_assert_uint_eq(r.spool_corrupt, 0);
		ck_assert_int_eq(ms_predlog_close(pl), MS_OK);
		v = mt_sql(url, "SELECT count(*) FROM model_predictions");
		ck_assert_int_eq(atol(v), (long)st.spooled);
		free(v);
		fprintf(stderr, "spool on a full disk: accepted %llu, spooled "
		        "%llu, refused at log %ld, lost %ld (accepted - spooled), "
		        "replayed %llu\n", (unsigned long long)st.accepted,
		        (unsigned long long)st.spooled, refused, lost,
		        (unsigned long long)r.replayed);
	}
	ck_assert_uint_eq(mt_spool_files(sp), 0);
	free(down);
	free(url);
}
END_TEST

Suite *db_diskfull_suite(void)
{
	Suite *s = suite_create("db_diskfull");
	TCase *tc;
	if (!mt_suite_needs_root("db_diskfull", "mounts a 2 MiB tmpfs"))
		return s;
	tc = tcase_create("diskfull");
	tcase_add_unchecked_fixture(tc, mount_fixture, umount_fixture);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, pull_onto_full_disk);
	tcase_add_test(tc, export_onto_full_disk);
	tcase_add_test(tc, report_onto_full_disk);
	tcase_add_test(tc, spool_onto_full_disk);
	suite_add_tcase(s, tc);
	return s;
}
