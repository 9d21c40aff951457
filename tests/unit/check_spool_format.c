/* check_spool_format.c - the spool file format byte for byte (no server
 * needed): a golden version 2 file, a version 1 file (0.1, little-endian
 * blobs) still read, a file of an unknown version refused whole (golden
 * bytes in spool_golden.h). */
#define _GNU_SOURCE
#include "common.h"
#include "alloc.h"
#include "blob.h"
#include "errbuf.h"
#include "spool.h"
#include "spool_golden.h"

#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const unsigned char UUID[16] = {
	0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17,
	0x18, 0x19, 0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x1f,
};

/* The one file in @p dir, read whole; its size in *size. */
static unsigned char *only_file(const char *dir, size_t *size, char **name)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	char *path = NULL;
	unsigned char *buf = malloc(4096);
	FILE *f;
	ck_assert_ptr_nonnull(d);
	while ((de = readdir(d)))
		if (strncmp(de->d_name, "pl-", 3) == 0) {
			ck_assert_ptr_null(path);
			ck_assert_int_gt(asprintf(&path, "%s/%s", dir, de->d_name), 0);
		}
	closedir(d);
	ck_assert_ptr_nonnull(path);
	f = fopen(path, "rb");
	ck_assert_ptr_nonnull(f);
	*size = fread(buf, 1, 4096, f);
	fclose(f);
	if (name)
		*name = strdup(strrchr(path, '/') + 1);
	free(path);
	return buf;
}

static void assert_golden_row(const ms_spool_rec *r)
{
	ms_blob v;
	ck_assert(ms__blob_parse(r->data, r->len, &v));
	ck_assert_int_eq(memcmp(v.uuid, UUID, 16), 0);
	ck_assert_int_eq(v.time_us, 1700000000123456);
	ck_assert(v.pred == 1.5 && isnan(v.actual) && v.conf == 0.25);
	ck_assert(v.nl == 5 && memcmp(v.name, "churn", 5) == 0);
	ck_assert(v.vl == 2 && memcmp(v.ver, "v1", 2) == 0);
	ck_assert(v.fl == 7 && memcmp(v.feat, "{\"a\":1}", 7) == 0);
}

/* The spool writes exactly the golden bytes, and reads them back. */
START_TEST(golden_v2_file)
{
	char *dir = mt_tmpdir();
	unsigned char b[64 + 5 + 2 + 7], *got;
	ms_blob v = { UUID, "churn", "v1", "{\"a\":1}", 5, 2, 7,
	              1700000000123456, 1.5, NAN, 0.25 };
	const void *p = b;
	uint32_t len = sizeof b;
	ms_spool *sp;
	ms_spool_rec *recs = NULL;
	size_t size, n = 0, cap = 0;
	ms_spool_scan info;
	ms_err e;

	ms__blob_pack(b, &v);
	ck_assert_int_eq(ms__spool_new(&sp, &e, dir, 1 << 20), MS_OK);
	ck_assert_int_eq(ms__spool_append(sp, &e, &p, &len, 1, true), MS_OK);
	ms__spool_free(sp);
	got = only_file(dir, &size, NULL);
	ck_assert_uint_eq(size, sizeof GOLDEN_V2);
	for (size_t i = 0; i < size; i++)
		ck_assert_msg(got[i] == GOLDEN_V2[i], "byte %zu: 0x%02x, not "
		              "0x%02x", i, got[i], GOLDEN_V2[i]);
	ck_assert_int_eq(ms__spool_scan(GOLDEN_V2, sizeof GOLDEN_V2, &recs, &n,
	                                &cap, &info), MS_OK);
	ck_assert_uint_eq(n, 1);
	ck_assert_uint_eq(info.version, 2);
	assert_golden_row(&recs[0]);
	ms__free(recs);
	free(got);
	mt_rmtree(dir);
	free(dir);
}
END_TEST

/* A 0.1 file: version 1, little-endian blob, read as the same row. */
START_TEST(v1_file_still_read)
{
	ms_spool_rec *recs = NULL;
	size_t n = 0, cap = 0;
	ms_spool_scan info;
	ck_assert_int_eq(ms__spool_scan(GOLDEN_V1, sizeof GOLDEN_V1, &recs, &n,
	                                &cap, &info), MS_OK);
	ck_assert(!info.bad_header && !info.bad_version && !info.torn);
	ck_assert_uint_eq(info.version, 1);
	ck_assert_uint_eq(n, 1);
	assert_golden_row(&recs[0]);
	ms__free(recs);
}
END_TEST

/* "MSPOOL9\n": nothing is read (not misread as records), the version is
 * named, and loading the file leaves it where it is. */
START_TEST(unknown_version_refused)
{
	unsigned char img[sizeof GOLDEN_V2];
	char *dir = mt_tmpdir(), *path = NULL, *name = NULL;
	ms_spool_rec *recs = NULL;
	size_t n = 0, cap = 0, size;
	ms_spool_scan info;
	ms_spool_file *f;
	ms_spool *sp;
	ms_err e;
	FILE *fp;

	memcpy(img, GOLDEN_V2, sizeof img);
	img[6] = '9';
	ck_assert_int_eq(ms__spool_scan(img, sizeof img, &recs, &n, &cap,
	                                &info), MS_OK);
	ck_assert_uint_eq(n, 0);
	ck_assert_int_eq(info.bad_version, '9');
	ck_assert(!info.bad_header && info.version == 0);
	/* not "MSPOOL?\n" at all: not a spool file, as before */
	img[7] = 'x';
	ck_assert_int_eq(ms__spool_scan(img, sizeof img, &recs, &n, &cap,
	                                &info), MS_OK);
	ck_assert(info.bad_header && !info.bad_version);
	img[7] = '\n';

	ck_assert_int_gt(asprintf(&path, "%s/pl-01a20000-0000-7000-8000-"
	                          "000000000000.spool", dir), 0);
	fp = fopen(path, "wb");
	ck_assert_uint_eq(fwrite(img, 1, sizeof img, fp), sizeof img);
	fclose(fp);
	ck_assert_int_eq(ms__spool_new(&sp, &e, dir, 1 << 20), MS_OK);
	ck_assert_int_eq(ms__spool_load(sp, &e, strrchr(path, '/') + 1, &f),
	                 MS_OK);
	ck_assert_int_eq(f->info.bad_version, '9');
	ck_assert_uint_eq(f->nrecs, 0);
	ms__spool_release(sp, f, false);
	ms__spool_free(sp);
	free(only_file(dir, &size, &name));
	ck_assert_uint_eq(size, sizeof img);
	free(name);
	free(path);
	mt_rmtree(dir);
	free(dir);
}
END_TEST

Suite *unit_spool_format_suite(void)
{
	Suite *s = suite_create("unit_spool_format");
	TCase *tc = tcase_create("Format");
	tcase_add_test(tc, golden_v2_file);
	tcase_add_test(tc, v1_file_still_read);
	tcase_add_test(tc, unknown_version_refused);
	suite_add_tcase(s, tc);
	return s;
}
