/* check_spool.c - spool framing, torn/corrupt records, UUIDv7 (no server
 * needed). */
#define _GNU_SOURCE
#include "common.h"
#include "alloc.h"
#include "errbuf.h"
#include "spool.h"
#include "util.h"
#include "uuid.h"

#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* Build a spool image with @n records "rec-<i>" of growing length. */
static unsigned char *image(size_t n, size_t *size, size_t *offs)
{
	size_t cap = 8 + n * (12 + 64), off = 8;
	unsigned char *d = malloc(cap);
	memcpy(d, MS__SPOOL_MAGIC, 8);
	for (size_t i = 0; i < n; i++) {
		char p[64];
		int len = snprintf(p, sizeof p, "rec-%zu-%.*s", i, (int)(i % 40),
		                   "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx");
		if (offs)
			offs[i] = off;
		ms__spool_frame(d + off, p, (uint32_t)len);
		off += 12 + (size_t)len;
	}
	*size = off;
	return d;
}

static void scan(const unsigned char *d, size_t size, ms_spool_rec **recs,
                 size_t *n, ms_spool_scan *info)
{
	size_t cap = 0;
	*recs = NULL;
	*n = 0;
	ck_assert_int_eq(ms__spool_scan(d, size, recs, n, &cap, info), MS_OK);
}

static bool rec_is(const ms_spool_rec *r, size_t i)
{
	char p[64];
	int len = snprintf(p, sizeof p, "rec-%zu-%.*s", i, (int)(i % 40),
	                   "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx");
	return r->len == (uint32_t)len && memcmp(r->data, p, r->len) == 0;
}

START_TEST(framing_roundtrip)
{
	size_t size, n;
	unsigned char *d = image(100, &size, NULL);
	ms_spool_rec *recs;
	ms_spool_scan info;
	scan(d, size, &recs, &n, &info);
	ck_assert_uint_eq(n, 100);
	ck_assert(!info.torn && !info.bad_header);
	ck_assert_uint_eq(info.corrupt, 0);
	for (size_t i = 0; i < n; i++)
		ck_assert(rec_is(&recs[i], i));
	ms__free(recs);
	/* empty file and header-only file: no records, no complaint */
	scan(d, 0, &recs, &n, &info);
	ck_assert_uint_eq(n, 0);
	ck_assert(!info.bad_header && !info.torn);
	scan(d, 8, &recs, &n, &info);
	ck_assert_uint_eq(n, 0);
	ck_assert(!info.torn);
	ms__free(recs);
	/* not a spool file */
	scan((const unsigned char *)"hello world, nothing here", 25, &recs, &n,
	     &info);
	ck_assert(info.bad_header);
	ck_assert_uint_eq(n, 0);
	free(d);
}
END_TEST

START_TEST(torn_tail_every_cut)
{
	size_t size, n, offs[20];
	unsigned char *d = image(20, &size, offs);
	/* Cut the file at every byte inside the last record: the 19 before
	 * it always survive, the tail is reported torn. */
	for (size_t cut = offs[19] + 1; cut < size; cut++) {
		ms_spool_rec *recs;
		ms_spool_scan info;
		scan(d, cut, &recs, &n, &info);
		ck_assert_uint_eq(n, 19);
		ck_assert(info.torn);
		ck_assert_uint_eq(info.corrupt, 0);
		ck_assert(rec_is(&recs[18], 18));
		ms__free(recs);
	}
	free(d);
}
END_TEST

START_TEST(corrupt_middle_record)
{
	size_t size, n, offs[30];
	unsigned char *d = image(30, &size, offs);
	ms_spool_rec *recs;
	ms_spool_scan info;

	/* flip a payload byte of record 10 */
	d[offs[10] + 14] ^= 0x55;
	scan(d, size, &recs, &n, &info);
	ck_assert_uint_eq(n, 29);
	ck_assert_uint_eq(info.corrupt, 1);
	ck_assert(!info.torn);
	ck_assert(rec_is(&recs[9], 9));
	ck_assert(rec_is(&recs[10], 11));
	ck_assert(rec_is(&recs[28], 29));
	ms__free(recs);
	d[offs[10] + 14] ^= 0x55;

	/* a huge bogus length in record 5 and a broken magic in record 20 */
	d[offs[5] + 7] = 0x7f;
	d[offs[20]] = 'X';
	scan(d, size, &recs, &n, &info);
	ck_assert_uint_eq(n, 28);
	ck_assert_uint_eq(info.corrupt, 2);
	ck_assert(rec_is(&recs[5], 6));
	ck_assert(rec_is(&recs[18], 19));
	ck_assert(rec_is(&recs[19], 21));
	ms__free(recs);

	/* zeroed region (a hole after a crash) in the middle */
	memset(d + offs[5], 0, offs[7] - offs[5]);
	scan(d, size, &recs, &n, &info);
	ck_assert_uint_eq(n, 27);
	ms__free(recs);
	free(d);
}
END_TEST

START_TEST(spool_dir_append_load)
{
	char *dir = mt_tmpdir(), *sub = NULL;
	ms_spool *sp;
	ms_err e;
	const void *ptrs[3] = { "aaa", "bbbb", "c" };
	uint32_t lens[3] = { 3, 4, 1 };
	char **names;
	size_t n;
	ms_spool_file *f;

	ck_assert_int_gt(asprintf(&sub, "%s/sp", dir), 0);
	ck_assert_int_eq(ms__spool_new(&sp, &e, sub, 1 << 20), MS_OK);
	ck_assert(!ms__spool_pending(sp));
	ck_assert_int_eq(ms__spool_append(sp, &e, ptrs, lens, 3, true), MS_OK);
	ck_assert(ms__spool_pending(sp));
	ck_assert_int_eq(ms__spool_list(sp, &e, &names, &n), MS_OK);
	ck_assert_uint_eq(n, 1);
	/* the active file is locked by us: not loadable until rotated */
	ck_assert_int_eq(ms__spool_load(sp, &e, names[0], &f), MS_EEXISTS);
	ms__spool_rotate(sp);
	ck_assert_int_eq(ms__spool_load(sp, &e, names[0], &f), MS_OK);
	ck_assert_uint_eq(f->nrecs, 3);
	ck_assert_int_eq(memcmp(f->recs[1].data, "bbbb", 4), 0);
	ms__spool_release(sp, f, true);
	ck_assert_uint_eq(ms__spool_bytes(sp), 0);
	ms__spool_names_free(names, n);
	ck_assert_int_eq(ms__spool_list(sp, &e, &names, &n), MS_OK);
	ck_assert_uint_eq(n, 0);
	ms__spool_names_free(names, n);
	ms__spool_free(sp);
	free(sub);
	mt_rmtree(dir);
	free(dir);
}
END_TEST

START_TEST(spool_limit)
{
	char *dir = mt_tmpdir();
	ms_spool *sp;
	ms_err e;
	char payload[100] = { 0 };
	const void *p = payload;
	uint32_t len = sizeof payload;
	int ok = 0;
	ck_assert_int_eq(ms__spool_new(&sp, &e, dir, 1000), MS_OK);
	for (int i = 0; i < 20; i++) {
		ms_status st = ms__spool_append(sp, &e, &p, &len, 1, false);
		if (st == MS_OK)
			ok++;
		else
			ck_assert_int_eq(st, MS_EFULL);
	}
	/* 8 header + k * 112 + 8 slack <= 1000 */
	ck_assert_int_eq(ok, 8);
	ck_assert_uint_le(ms__spool_bytes(sp), 1000);
	ms__spool_free(sp);
	mt_rmtree(dir);
	free(dir);
}
END_TEST

START_TEST(uuid_format_and_order)
{
	unsigned char a[16], b[16], back[16];
	char s[MS_UUID_STRLEN], prev[MS_UUID_STRLEN] = "";
	uint64_t now = ms__wall_ms();
	for (int i = 0; i < 200000; i++) {
		ms__uuid7(a);
		ms__uuid_format(s, a);
		ck_assert_uint_eq(strlen(s), 36);
		ck_assert_int_eq(s[14], '7');                       /* version */
		ck_assert(strchr("89ab", s[19]) != NULL);           /* variant */
		ck_assert(s[8] == '-' && s[13] == '-' && s[18] == '-' &&
		          s[23] == '-');
		ck_assert_msg(strcmp(prev, s) < 0, "%s !< %s", prev, s);
		memcpy(prev, s, sizeof s);
	}
	ck_assert(ms__uuid_parse(back, s));
	ck_assert_int_eq(memcmp(back, a, 16), 0);
	ck_assert(!ms__uuid_parse(back, "not-a-uuid"));
	ck_assert(!ms__uuid_parse(back, "0190a0b0-0000-7000-8000-00000000000g"));
	ck_assert(!ms__uuid_parse(back, "0190a0b0-0000-7000-8000-0000000000000"));
	ms__uuid7(b);
	ck_assert_uint_ge(ms__uuid7_ms(b) + 5, now);
	ck_assert_uint_le(ms__uuid7_ms(b), ms__wall_ms() + 1000);
}
END_TEST

#define TH 4
#define PER 50000
static unsigned char th_ids[TH][PER][16];

static void *uuid_thread(void *arg)
{
	unsigned char (*ids)[16] = arg;
	for (int i = 0; i < PER; i++)
		ms__uuid7(ids[i]);
	return NULL;
}

static int cmp16(const void *a, const void *b) { return memcmp(a, b, 16); }

START_TEST(uuid_threads_unique)
{
	pthread_t t[TH];
	unsigned char (*all)[16] = malloc(sizeof th_ids);
	for (int i = 0; i < TH; i++)
		pthread_create(&t[i], NULL, uuid_thread, th_ids[i]);
	for (int i = 0; i < TH; i++)
		pthread_join(t[i], NULL);
	for (int i = 0; i < TH; i++)
		for (int k = 1; k < PER; k++) /* each thread sees increasing ids */
			ck_assert_int_lt(memcmp(th_ids[i][k - 1], th_ids[i][k], 16), 0);
	memcpy(all, th_ids, sizeof th_ids);
	qsort(all, TH * PER, 16, cmp16);
	for (int k = 1; k < TH * PER; k++)
		ck_assert_int_ne(memcmp(all[k - 1], all[k], 16), 0);
	free(all);
}
END_TEST

START_TEST(uuid_fork_differs)
{
	unsigned char parent[16], child[16];
	int pfd[2];
	pid_t pid;
	ms__uuid7(parent); /* fill this thread's random pool */
	ck_assert_int_eq(pipe(pfd), 0);
	pid = fork();
	if (pid == 0) {
		ms__uuid7(child);
		(void)!write(pfd[1], child, 16);
		_exit(0);
	}
	ms__uuid7(parent);
	ck_assert_int_eq(read(pfd[0], child, 16), 16);
	waitpid(pid, NULL, 0);
	/* same ms and counter are possible; the random tail must differ */
	ck_assert_int_ne(memcmp(parent + 9, child + 9, 7), 0);
	close(pfd[0]);
	close(pfd[1]);
}
END_TEST

Suite *unit_spool_suite(void)
{
	Suite *s = suite_create("unit_spool");
	TCase *tc = tcase_create("Spool");
	tcase_add_test(tc, framing_roundtrip);
	tcase_add_test(tc, torn_tail_every_cut);
	tcase_add_test(tc, corrupt_middle_record);
	tcase_add_test(tc, spool_dir_append_load);
	tcase_add_test(tc, spool_limit);
	tcase_set_timeout(tc, 60);
	suite_add_tcase(s, tc);
	tc = tcase_create("Uuid");
	tcase_add_test(tc, uuid_format_and_order);
	tcase_add_test(tc, uuid_threads_unique);
	tcase_add_test(tc, uuid_fork_differs);
	tcase_set_timeout(tc, 60);
	suite_add_tcase(s, tc);
	return s;
}
