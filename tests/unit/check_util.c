/* check_util.c - pure code: names, hex, hashing, options, atomic files. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common.h"
#include "alloc.h"
#include "errbuf.h"
#include "fallback.h"
#include "hash.h"
#include "util.h"

START_TEST(names)
{
	ck_assert_int_eq(ms_name_check("default"), MS_OK);
	ck_assert_int_eq(ms_name_check("fraud-v2.scorer_1"), MS_OK);
	ck_assert_int_eq(ms_name_check(""), MS_EINVAL);
	ck_assert_int_eq(ms_name_check(NULL), MS_EINVAL);
	ck_assert_int_eq(ms_name_check(".hidden"), MS_EINVAL);
	ck_assert_int_eq(ms_name_check("-rf"), MS_EINVAL);
	ck_assert_int_eq(ms_name_check("a/b"), MS_EINVAL);
	ck_assert_int_eq(ms_name_check("a'b"), MS_EINVAL);
	ck_assert_int_eq(ms_name_check("a;b"), MS_EINVAL);
	ck_assert_int_eq(ms_name_check("a\nb"), MS_EINVAL);
	ck_assert_int_eq(ms_name_check("caf\xc3\xa9"), MS_EINVAL);
	char longname[MS_NAME_MAX + 2];
	memset(longname, 'a', sizeof longname - 1);
	longname[MS_NAME_MAX + 1] = '\0';
	ck_assert_int_eq(ms_name_check(longname), MS_EINVAL);
	longname[MS_NAME_MAX] = '\0';
	ck_assert_int_eq(ms_name_check(longname), MS_OK);
}
END_TEST

START_TEST(versions)
{
	ck_assert_int_eq(ms_model_version_check("20260105_143022"), MS_OK);
	ck_assert_int_eq(ms_model_version_check("production"), MS_EINVAL);
	ck_assert_int_eq(ms_model_version_check("latest"), MS_EINVAL);
	ck_assert_int_eq(ms_model_version_check("v1;DROP TABLE x"), MS_EINVAL);
	char v[MS_VERSION_MAX + 2];
	memset(v, '1', sizeof v - 1);
	v[MS_VERSION_MAX + 1] = '\0';
	ck_assert_int_eq(ms_model_version_check(v), MS_EINVAL);
	v[MS_VERSION_MAX] = '\0';
	ck_assert_int_eq(ms_model_version_check(v), MS_OK);
}
END_TEST

START_TEST(sha256_known_answers)
{
	unsigned char d[32], back[32];
	char hex[65];
	ms_sha256 *h = ms__sha256_new();
	ck_assert_ptr_nonnull(h);
	ms__sha256_update(h, "abc", 3);
	ms__sha256_final(h, d);
	ms__sha256_free(h);
	ms__hex(hex, d, 32);
	ck_assert_str_eq(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	ck_assert(ms__unhex32(back, hex));
	ck_assert_mem_eq(back, d, 32);
	ck_assert(!ms__unhex32(back, "zz"));
	hex[10] = 'g';
	ck_assert(!ms__unhex32(back, hex));
}
END_TEST

/* A system openssl.cnf that cannot be loaded (here one that activates a
 * provider that does not exist) makes every EVP digest of the process
 * fail, and the hash that guards every artifact must not depend on it:
 * the known answer must come out.  Check runs each test in a child of a
 * runner that never hashes, so OpenSSL has not read its configuration
 * before this test sets it; with CK_FORK=no an earlier test would have,
 * and the test says so rather than pass without proving anything. */
START_TEST(sha256_ignores_a_broken_openssl_cnf)
{
	const char *fork_mode = getenv("CK_FORK");
	char *dir = mt_tmpdir(), path[4096];
	unsigned char d[32];
	char hex[65];
	FILE *f;
	ms_sha256 *h;

	if (fork_mode != NULL && strcmp(fork_mode, "no") == 0)
		ck_abort_msg("needs CK_FORK: OpenSSL may have read its configuration in an earlier test");
	snprintf(path, sizeof path, "%s/openssl.cnf", dir);
	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fputs("openssl_conf = openssl_init\n"
	      "[openssl_init]\nproviders = provider_sect\n"
	      "[provider_sect]\nnope = nope_sect\n"
	      "[nope_sect]\nactivate = 1\n", f);
	ck_assert_int_eq(fclose(f), 0);
	ck_assert_int_eq(setenv("OPENSSL_CONF", path, 1), 0);
	h = ms__sha256_new();
	ck_assert_msg(h != NULL, "no SHA-256 under an openssl.cnf that names a missing provider");
	ms__sha256_update(h, "abc", 3);
	ms__sha256_final(h, d);
	ms__sha256_free(h);
	ms__hex(hex, d, 32);
	ck_assert_str_eq(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	mt_rmtree(dir);
	free(dir);
}
END_TEST

START_TEST(status_strings_and_options)
{
	ms_store_options so;
	ms_push_options po;
	ck_assert_str_eq(ms_status_str(MS_OK), "ok");
	ck_assert_str_eq(ms_status_str(MS_EINTEGRITY), "integrity check failed");
	ck_assert_str_eq(ms_status_str((ms_status)999), "unknown status");
	ck_assert_int_eq(ms_store_options_init(&so, 99), MS_EINVAL);
	ck_assert_int_eq(ms_store_options_init(&so, MS_STORE_OPTIONS_VERSION), MS_OK);
	ck_assert_int_eq(so.check_schema, 1);
	ck_assert_int_eq(ms_push_options_init(&po, MS_PUSH_OPTIONS_VERSION), MS_OK);
	ck_assert_ptr_null(po.accuracy); /* absent */
	ck_assert_ptr_null(po.rmse);
	ck_assert_ptr_null(po.r2);
	ck_assert_str_eq(ms_version(), MS_VERSION);
}
END_TEST

START_TEST(store_open_bad_options)
{
	ms_store *s = NULL;
	ms_store_options o = MS_STORE_OPTIONS_INIT;
	o.version = 7;
	ck_assert_int_eq(ms_store_open(&s, "postgresql://x@127.0.0.1:1/x", &o), MS_EINVAL);
	ck_assert_ptr_nonnull(s);
	ck_assert_ptr_nonnull(strstr(ms_store_errmsg(s), "version"));
	ms_store_close(s);
	ms_store_close(NULL);
}
END_TEST

/* Structs the library fills are versioned: an unknown version is
 * MS_EINVAL and the struct is left as it was. */
START_TEST(versioned_structs_refuse_unknown_versions)
{
	ms_loader_stats ls = MS_LOADER_STATS_INIT;
	ms_predlog_stats ps = MS_PREDLOG_STATS_INIT;
	ms_artifact_info info = MS_ARTIFACT_INFO_INIT;
	ms_store *s = NULL;
	char sentinel[] = "not the library's";

	/* a known version: zeros for a NULL handle, the version kept */
	ls.hits = 7;
	ck_assert_int_eq(ms_loader_stats_get(&ls, NULL), MS_OK);
	ck_assert_uint_eq(ls.version, MS_LOADER_STATS_VERSION);
	ck_assert_uint_eq(ls.hits, 0);
	ps.written = 7;
	ck_assert_int_eq(ms_predlog_stats_get(&ps, NULL), MS_OK);
	ck_assert_uint_eq(ps.version, MS_PREDLOG_STATS_VERSION);
	ck_assert_uint_eq(ps.written, 0);

	/* unknown versions, older (0) and newer */
	ls.version = 0;
	ls.hits = 7;
	ck_assert_int_eq(ms_loader_stats_get(&ls, NULL), MS_EINVAL);
	ck_assert_uint_eq(ls.hits, 7);
	ls.version = MS_LOADER_STATS_VERSION + 1;
	ck_assert_int_eq(ms_loader_stats_get(&ls, NULL), MS_EINVAL);
	ck_assert_int_eq(ms_loader_stats_get(NULL, NULL), MS_EINVAL);
	ps.version = MS_PREDLOG_STATS_VERSION + 1;
	ps.written = 7;
	ck_assert_int_eq(ms_predlog_stats_get(&ps, NULL), MS_EINVAL);
	ck_assert_uint_eq(ps.written, 7);
	ps.version = 0;
	ck_assert_int_eq(ms_predlog_stats_get(&ps, NULL), MS_EINVAL);
	ck_assert_int_eq(ms_predlog_stats_get(NULL, NULL), MS_EINVAL);

	/* artifact info: the version is checked before anything else (a
	 * store that never connected says MS_EUNREACHABLE otherwise) */
	ck_assert_int_eq(ms_store_open(&s, "postgresql://x@127.0.0.1:1/x", NULL),
	                 MS_EUNREACHABLE);
	info.version = MS_ARTIFACT_INFO_VERSION + 1;
	info.id = 42;
	info.metrics_json = sentinel;
	ck_assert_int_eq(ms_store_show(&info, s, NULL, NULL, NULL), MS_EINVAL);
	ck_assert_ptr_nonnull(strstr(ms_store_errmsg(s), "ms_artifact_info version"));
	ck_assert_int_eq(ms_store_pull(&info, s, NULL, NULL, NULL, NULL, NULL,
	                               NULL, NULL), MS_EINVAL);
	ck_assert_int_eq(ms_store_pull_file(&info, s, NULL, NULL, NULL, "x", 0,
	                                    NULL, NULL), MS_EINVAL);
	ck_assert_int_eq(ms_store_export(&info, s, NULL, NULL, NULL, NULL, NULL),
	                 MS_EINVAL);
	info.version = 0;
	ck_assert_int_eq(ms_store_show(&info, s, NULL, NULL, NULL), MS_EINVAL);
	ck_assert_int_eq(info.id, 42); /* untouched */
	ck_assert_ptr_eq(info.metrics_json, sentinel);
	ms_artifact_info_dispose(&info); /* unknown layout: frees nothing */
	ck_assert_ptr_eq(info.metrics_json, sentinel);

	/* the version known: zeroed but for the version, then unreachable */
	info.version = MS_ARTIFACT_INFO_VERSION;
	info.metrics_json = NULL;
	ck_assert_int_eq(ms_store_show(&info, s, NULL, NULL, NULL),
	                 MS_EUNREACHABLE);
	ck_assert_uint_eq(info.version, MS_ARTIFACT_INFO_VERSION);
	ck_assert_int_eq(info.id, 0);
	ms_artifact_info_dispose(&info);
	ms_store_close(s);

	/* the opaque list: NULL is an empty list */
	ck_assert_uint_eq(ms_artifact_list_count(NULL), 0);
	ck_assert_ptr_null(ms_artifact_list_get(NULL, 0));
	ms_artifact_list_free(NULL);
}
END_TEST

START_TEST(fallback_paths)
{
	char p[256];
	ck_assert(ms__fallback_path(p, sizeof p, "models", "default", "model.bin"));
	ck_assert_str_eq(p, "models/production/model.bin");
	ck_assert(ms__fallback_path(p, sizeof p, "/srv/m", "fraud", "model.json"));
	ck_assert_str_eq(p, "/srv/m/production/fraud/model.json");
	ck_assert(!ms__fallback_path(p, 10, "/srv/m", "fraud", "model.json"));
}
END_TEST

START_TEST(atomic_file_writes_and_refuses_symlinks)
{
	char *dir = mt_tmpdir(), path[512], link[512], buf[16];
	ms_err e;
	ms_atomic_file *af;
	FILE *f;
	snprintf(path, sizeof path, "%s/out.bin", dir);
	ck_assert_int_eq(ms__atomic_open(&af, &e, path, 0), MS_OK);
	ck_assert_int_eq(ms__atomic_write(af, "hello", 5), MS_OK);
	/* nothing visible before the commit */
	ck_assert_int_ne(access(path, F_OK), 0);
	ck_assert_int_eq(ms__atomic_commit(af, &e), MS_OK);
	f = fopen(path, "rb");
	ck_assert_ptr_nonnull(f);
	ck_assert_uint_eq(fread(buf, 1, sizeof buf, f), 5);
	fclose(f);
	ck_assert_mem_eq(buf, "hello", 5);
	/* exists, no overwrite */
	ck_assert_int_eq(ms__atomic_open(&af, &e, path, 0), MS_EEXISTS);
	ck_assert_ptr_nonnull(strstr(e.msg, "exists"));
	/* aborted write leaves the old file and no temp file */
	ck_assert_int_eq(ms__atomic_open(&af, &e, path, 1), MS_OK);
	ck_assert_int_eq(ms__atomic_write(af, "XXXXXXXX", 8), MS_OK);
	ms__atomic_abort(af);
	struct stat st;
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_int_eq(st.st_size, 5);
	/* symlink target refused */
	snprintf(link, sizeof link, "%s/link.bin", dir);
	ck_assert_int_eq(symlink("/etc/passwd", link), 0);
	ck_assert_int_eq(ms__atomic_open(&af, &e, link, 1), MS_EIO);
	ck_assert_ptr_nonnull(strstr(e.msg, "symbolic link"));
	char cmd[600];
	snprintf(cmd, sizeof cmd, "ls %s | grep -c tmp", dir);
	ck_assert_int_ne(system(cmd), 0); /* grep finds no temp file */
	mt_rmtree(dir);
	free(dir);
}
END_TEST

/* The public wrapper: whole file or nothing, messages through an ms_buf. */
START_TEST(public_atomic_file_write)
{
	char *dir = mt_tmpdir(), path[512], bad[600], buf[16];
	ms_buf msg = MS_BUF_INIT;
	FILE *f;
	snprintf(path, sizeof path, "%s/page.html", dir);
	ck_assert_int_eq(ms_file_write_atomic(&msg, path, "hello", 5, 0), MS_OK);
	ck_assert_ptr_null(msg.ptr); /* untouched on success */
	ck_assert_int_eq(ms_file_write_atomic(&msg, path, "again", 5, 0),
	                 MS_EEXISTS);
	ck_assert_ptr_nonnull(strstr(msg.ptr, path));
	ms_buf_dispose(&msg);
	ck_assert_int_eq(ms_file_write_atomic(NULL, path, "bye", 3, 1), MS_OK);
	f = fopen(path, "rb");
	ck_assert_ptr_nonnull(f);
	ck_assert_uint_eq(fread(buf, 1, sizeof buf, f), 3);
	fclose(f);
	ck_assert_mem_eq(buf, "bye", 3);
	ck_assert_int_eq(ms_file_write_atomic(NULL, path, NULL, 0, 1), MS_OK);
	snprintf(bad, sizeof bad, "%s/no/such/dir/page.html", dir);
	/* a missing directory is an I/O error, not "not found" (exit 3) */
	ck_assert_int_eq(ms_file_write_atomic(&msg, bad, "x", 1, 1), MS_EIO);
	ck_assert_ptr_nonnull(strstr(msg.ptr, bad));
	ms_buf_dispose(&msg);
	ck_assert_int_eq(ms_file_write_atomic(&msg, dir, "x", 1, 1), MS_EIO);
	ms_buf_dispose(&msg);
	ck_assert_int_eq(ms_file_write_atomic(&msg, "", "x", 1, 1), MS_EINVAL);
	ms_buf_dispose(&msg);
	ck_assert_int_eq(ms_file_write_atomic(NULL, path, NULL, 1, 1), MS_EINVAL);
	/* allocation failures: MS_ENOMEM, the old file intact */
	for (int n = 1; n < 50; n++) {
		ms_status st;
		ms__fault_alloc_after(n);
		st = ms_file_write_atomic(&msg, path, "fault", 5, 1);
		ms__fault_alloc_after(0);
		ms_buf_dispose(&msg);
		if (st == MS_OK)
			break;
		ck_assert_int_eq(st, MS_ENOMEM);
		ck_assert_int_eq(access(path, F_OK), 0);
	}
	{
		char cmd[600];
		snprintf(cmd, sizeof cmd, "test $(ls %s | wc -l) -eq 1", dir);
		ck_assert_int_eq(system(cmd), 0); /* no temp file left behind */
	}
	mt_rmtree(dir);
	free(dir);
}
END_TEST

START_TEST(allocation_failures_are_reported)
{
	/* Fail the Nth allocation for N = 1, 2, ... until the operation
	 * succeeds: every failure must be MS_ENOMEM and leak nothing
	 * (checked under ASan). */
	char *dir = mt_tmpdir(), path[512];
	ms_err e;
	int n, failures = 0;
	snprintf(path, sizeof path, "%s/f.bin", dir);
	for (n = 1; n < 50; n++) {
		ms_atomic_file *af = NULL;
		ms_buf b = MS_BUF_INIT;
		ms_status st;
		ms__fault_alloc_after(n);
		st = ms__atomic_open(&af, &e, path, 1);
		if (st == MS_OK) {
			ms__atomic_abort(af);
			st = ms__buf_set(&b, "abc", 3);
			ms_buf_dispose(&b);
		}
		ms__fault_alloc_after(0);
		if (st == MS_OK)
			break;
		ck_assert_int_eq(st, MS_ENOMEM);
		failures++;
	}
	ck_assert_int_ge(failures, 1);
	ck_assert_int_lt(n, 50);
	mt_rmtree(dir);
	free(dir);
}
END_TEST

Suite *unit_util_suite(void)
{
	Suite *s = suite_create("unit_util");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, names);
	tcase_add_test(tc, versions);
	tcase_add_test(tc, sha256_known_answers);
	tcase_add_test(tc, sha256_ignores_a_broken_openssl_cnf);
	tcase_add_test(tc, status_strings_and_options);
	tcase_add_test(tc, store_open_bad_options);
	tcase_add_test(tc, versioned_structs_refuse_unknown_versions);
	tcase_add_test(tc, fallback_paths);
	tcase_add_test(tc, atomic_file_writes_and_refuses_symlinks);
	tcase_add_test(tc, public_atomic_file_write);
	tcase_add_test(tc, allocation_failures_are_reported);
	suite_add_tcase(s, tc);
	return s;
}
