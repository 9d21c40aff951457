/* check_fallback.c - the fallback copy on disk: the model.bin/model.json
 * pair switches atomically (a crash at any step, or concurrent writers,
 * leave a pair that verifies), output files that are not regular files
 * are streamed into and never replaced, malformed or oversized sidecars
 * are refused, colliding names are rejected, and stale temp files of
 * killed writers are swept. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common.h"

#include "alloc.h"
#include "fallback.h"

#define SIZE 200000

static ms_status export_version(const char *url, const char *name,
                                const char *sel, const char *dir,
                                char *msg, size_t msg_n)
{
	ms_store *s = mt_open_store(url);
	ms_status st = ms_store_export(NULL, s, name, sel, dir, NULL, NULL);
	if (msg)
		snprintf(msg, msg_n, "%s", st == MS_OK ? "" : ms_store_errmsg(s));
	ms_store_close(s);
	return st;
}

/* Load @p name from the fallback tree @p dir with the database down;
 * the status, and on MS_OK the version served into @p version. */
static ms_status load_down(const char *dir, const char *name,
                           char version[64], int *verified)
{
	char *url = mt_refused_url();
	ms_loader_options o;
	ms_loader *l = NULL;
	ms_model *m = NULL;
	ms_status st;

	ms_loader_options_init(&o, MS_LOADER_OPTIONS_VERSION);
	o.fallback_dir = dir;
	ck_assert_int_eq(ms_loader_open(&l, url, &o), MS_OK);
	st = ms_loader_get(&m, l, name, NULL);
	if (st == MS_OK) {
		ck_assert_int_eq(ms_model_source(m), MS_SOURCE_FALLBACK);
		snprintf(version, 64, "%s", ms_model_version(m));
		*verified = ms_model_verified(m);
		ms_model_release(m);
	}
	ms_loader_close(l);
	free(url);
	return st;
}

/* Files in @p dir whose names start with @p prefix and end with @p suffix. */
static int count_files(const char *dir, const char *prefix,
                       const char *suffix)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	int n = 0;
	ck_assert_ptr_nonnull(d);
	while ((de = readdir(d)) != NULL) {
		size_t l = strlen(de->d_name), ls = strlen(suffix);
		if (strncmp(de->d_name, prefix, strlen(prefix)) == 0 && l >= ls &&
		    strcmp(de->d_name + l - ls, suffix) == 0)
			n++;
	}
	closedir(d);
	return n;
}

/* ------------------------------------------------------------------ */
/* defect 1: the pair switches atomically                              */
/* ------------------------------------------------------------------ */

/* A writer stopped (as if killed) after each step of its commit leaves
 * a pair that verifies: the old model up to the sidecar's rename, the
 * new one after it; the next export clears what the crash left. */
START_TEST(export_interrupted_at_each_step_still_verifies)
{
	static const struct { int step; const char *want; } cases[] = {
		{ MS__FB_STEP_PAYLOAD, "v1" },   /* payload renamed, no sidecar */
		{ MS__FB_STEP_SIDECAR, "v1" },   /* the sidecar write fails */
		{ MS__FB_STEP_SWITCHED, "v2" },  /* sidecar renamed, model.bin old */
		{ MS__FB_STEP_LINKED, "v2" },    /* model.bin linked, not cleaned */
	};
	char *url = mt_migrated_db("fb_crash");
	char prod[PATH_MAX], version[64], msg[512];
	size_t i;

	mt_push(url, "default", "v1", SIZE, 1, 1);
	mt_push(url, "default", "v2", SIZE + 7, 2, 0);
	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char *dir = mt_tmpdir();
		int verified = 0;
		ck_assert_int_eq(export_version(url, NULL, "v1", dir, msg,
		                                sizeof msg), MS_OK);
		ms__fault_step_at(cases[i].step);
		ck_assert_int_ne(export_version(url, NULL, "v2", dir, msg,
		                                sizeof msg), MS_OK);
		ms__fault_step_at(0);
		ck_assert_msg(load_down(dir, NULL, version, &verified) == MS_OK,
		              "step %d: fallback refused", cases[i].step);
		ck_assert_int_eq(verified, 1);
		ck_assert_msg(strcmp(version, cases[i].want) == 0,
		              "step %d: served %s, want %s", cases[i].step,
		              version, cases[i].want);
		/* the next export completes and removes what the crash left */
		ck_assert_int_eq(export_version(url, NULL, "v2", dir, msg,
		                                sizeof msg), MS_OK);
		snprintf(prod, sizeof prod, "%s/production", dir);
		ck_assert_int_eq(count_files(prod, "model-", ".bin"), 1);
		ck_assert_int_eq(count_files(prod, "", ".tmp"), 0);
		ck_assert_int_eq(load_down(dir, NULL, version, &verified), MS_OK);
		ck_assert_str_eq(version, "v2");
		mt_rmtree(dir);
		free(dir);
	}
	free(url);
}
END_TEST

typedef struct exporter {
	const char *url, *dir;
	char version[16];
	ms_status st;
	char msg[512];
} exporter;

static void *export_thread(void *p)
{
	exporter *x = p;
	x->st = export_version(x->url, "seg", x->version, x->dir, x->msg,
	                       sizeof x->msg);
	return NULL;
}

/* N exports of different versions at once (the loader's refresh writes
 * the same way): afterwards the copy verifies, is one of them, and only
 * its payload file is left. */
START_TEST(concurrent_exports_leave_one_verified_pair)
{
	enum { N = 6, ROUNDS = 3 };
	char *url = mt_migrated_db("fb_concurrent");
	char prod[PATH_MAX], version[64];
	int i, r;

	for (i = 0; i < N; i++) {
		char v[16];
		snprintf(v, sizeof v, "c%d", i);
		mt_push(url, "seg", v, (size_t)(1u << 20) + (size_t)i * 4096,
		     100 + (unsigned)i, i == 0);
	}
	for (r = 0; r < ROUNDS; r++) {
		char *dir = mt_tmpdir();
		exporter x[N];
		pthread_t t[N];
		int verified = 0, found = 0;
		for (i = 0; i < N; i++) {
			memset(&x[i], 0, sizeof x[i]);
			x[i].url = url;
			x[i].dir = dir;
			snprintf(x[i].version, sizeof x[i].version, "c%d", i);
			ck_assert_int_eq(pthread_create(&t[i], NULL, export_thread,
			                                &x[i]), 0);
		}
		for (i = 0; i < N; i++) {
			pthread_join(t[i], NULL);
			ck_assert_msg(x[i].st == MS_OK, "export %d: %s", i, x[i].msg);
		}
		ck_assert_int_eq(load_down(dir, "seg", version, &verified), MS_OK);
		ck_assert_int_eq(verified, 1);
		for (i = 0; i < N; i++)
			found += strcmp(version, x[i].version) == 0;
		ck_assert_int_eq(found, 1);
		snprintf(prod, sizeof prod, "%s/production/seg", dir);
		ck_assert_int_eq(count_files(prod, "model-", ".bin"), 1);
		ck_assert_int_eq(count_files(prod, "", ".tmp"), 0);
		mt_rmtree(dir);
		free(dir);
	}
	free(url);
}
END_TEST

/* ------------------------------------------------------------------ */
/* defect 2: outputs that are not regular files                        */
/* ------------------------------------------------------------------ */

/* A device node of our own (root in a test container), so that a
 * regression replaces a file of the test's and not the real /dev/null;
 * without the right to make one, the real device (which an unprivileged
 * writer cannot replace either). */
static char *device(const char *dir, const char *name, unsigned minor,
                    const char *real)
{
	char *path = NULL;
	ck_assert_int_gt(asprintf(&path, "%s/%s", dir, name), 0);
	if (mknod(path, S_IFCHR | 0666, makedev(1, minor)) != 0) {
		free(path);
		path = strdup(real);
	}
	return path;
}

typedef struct drain {
	int fd;
	_Atomic int pull_done;
	size_t bytes;
} drain;

/* Read the FIFO until the writer closed it, or until the pull returned
 * without any writer having opened it. */
static void *drain_thread(void *p)
{
	drain *d = p;
	char buf[65536];
	for (;;) {
		/* the pull closed its end before saying it was done */
		int done = atomic_load(&d->pull_done);
		ssize_t r = read(d->fd, buf, sizeof buf);
		if (r > 0)
			d->bytes += (size_t)r;
		else if (r == 0 && done)
			break;
		else if (r < 0 && errno != EAGAIN && errno != EINTR)
			break;
		else
			sched_yield();
	}
	return NULL;
}

START_TEST(pull_into_fifo_streams_and_keeps_it)
{
	char *url = mt_migrated_db("fb_fifo"), *dir = mt_tmpdir(), *fifo = NULL;
	ms_store *s;
	ms_artifact_info info = MS_ARTIFACT_INFO_INIT;
	pthread_t t;
	drain d = { -1, 0, 0 };
	struct stat sb;
	ms_status st;

	mt_push(url, "default", "v1", SIZE, 5, 1);
	ck_assert_int_gt(asprintf(&fifo, "%s/pipe", dir), 0);
	ck_assert_int_eq(mkfifo(fifo, 0600), 0);
	/* a reader is there before the pull opens the FIFO */
	d.fd = open(fifo, O_RDONLY | O_NONBLOCK);
	ck_assert_int_ge(d.fd, 0);
	ck_assert_int_eq(pthread_create(&t, NULL, drain_thread, &d), 0);
	s = mt_open_store(url);
	st = ms_store_pull_file(&info, s, NULL, "v1", NULL, fifo, 1, NULL, NULL);
	atomic_store(&d.pull_done, 1);
	pthread_join(t, NULL);
	close(d.fd);
	ck_assert_msg(st == MS_OK, "pull: %s", ms_store_errmsg(s));
	ck_assert_uint_eq(d.bytes, SIZE);
	ck_assert_int_eq(lstat(fifo, &sb), 0);
	ck_assert(S_ISFIFO(sb.st_mode));
	ck_assert_int_eq(count_files(dir, "", ".tmp"), 0);
	ms_artifact_info_dispose(&info);
	ms_store_close(s);
	mt_rmtree(dir);
	free(dir);
	free(fifo);
	free(url);
}
END_TEST

START_TEST(pull_into_null_device_keeps_it)
{
	char *url = mt_migrated_db("fb_null"), *dir = mt_tmpdir();
	char *null = device(dir, "null", 3, "/dev/null");
	ms_store *s;
	struct stat sb;
	ms_status st;

	mt_push(url, "default", "v1", SIZE, 6, 1);
	s = mt_open_store(url);
	st = ms_store_pull_file(NULL, s, NULL, "v1", NULL, null, 1, NULL, NULL);
	ck_assert_msg(st == MS_OK, "pull: %s", ms_store_errmsg(s));
	ck_assert_int_eq(lstat(null, &sb), 0);
	ck_assert(S_ISCHR(sb.st_mode));
	ck_assert_int_eq(count_files(dir, "", ".tmp"), 0);
	ms_store_close(s);
	mt_rmtree(dir);
	free(dir);
	free(null);
	free(url);
}
END_TEST

START_TEST(pull_into_full_device_is_io_error)
{
	char *url = mt_migrated_db("fb_full"), *dir = mt_tmpdir();
	char *full = device(dir, "full", 7, "/dev/full");
	char *out = NULL, *err = NULL;
	struct stat sb;
	const char *argv[] = { mt_cli(), "--db", url, "pull", "v1", "-o", full,
	                       "--force", "-q", NULL };

	mt_push(url, "default", "v1", SIZE, 7, 1);
	ck_assert_int_eq(mt_run(argv, NULL, NULL, 0, &out, &err), 1);
	ck_assert_msg(strstr(err, full) != NULL, "message: %s", err);
	ck_assert_msg(strstr(err, "No space left") != NULL, "message: %s", err);
	ck_assert_int_eq(lstat(full, &sb), 0);
	ck_assert(S_ISCHR(sb.st_mode));
	ck_assert_int_eq(count_files(dir, "", ".tmp"), 0);
	free(out);
	free(err);
	mt_rmtree(dir);
	free(dir);
	free(full);
	free(url);
}
END_TEST

/* A missing output directory is an I/O error (exit 1), not "model not
 * found" (exit 3). */
START_TEST(pull_into_missing_directory_is_not_not_found)
{
	char *url = mt_migrated_db("fb_nodir"), *dir = mt_tmpdir(), *o = NULL;
	char *out = NULL, *err = NULL;
	const char *argv[] = { mt_cli(), "--db", url, "pull", "v1", "-o", NULL,
	                       "-q", NULL };

	mt_push(url, "default", "v1", 1000, 8, 1);
	ck_assert_int_gt(asprintf(&o, "%s/missing/dir/x", dir), 0);
	argv[6] = o;
	ck_assert_int_eq(mt_run(argv, NULL, NULL, 0, &out, &err), 1);
	ck_assert_msg(strstr(err, "missing/dir") != NULL, "message: %s", err);
	free(out);
	free(err);
	mt_rmtree(dir);
	free(dir);
	free(o);
	free(url);
}
END_TEST

/* ------------------------------------------------------------------ */
/* defect 3: sidecars, names, stale temp files                         */
/* ------------------------------------------------------------------ */

/* Export v1, then rewrite its sidecar's sha256 with @p v (NULL:
 * remove the key). */
static char *export_and_set_sha(const char *url, json_t *v)
{
	char *dir = mt_tmpdir(), side[PATH_MAX], msg[512];
	json_t *sc;
	ck_assert_int_eq(export_version(url, NULL, "production", dir, msg,
	                                sizeof msg), MS_OK);
	snprintf(side, sizeof side, "%s/production/model.json", dir);
	sc = json_load_file(side, 0, NULL);
	ck_assert_ptr_nonnull(sc);
	if (v)
		json_object_set_new(sc, "sha256", v);
	else
		json_object_del(sc, "sha256");
	ck_assert_int_eq(json_dump_file(sc, side, 0), 0);
	json_decref(sc);
	return dir;
}

START_TEST(sidecar_without_sha256_is_refused)
{
	char *url = mt_migrated_db("fb_nosha");
	json_t *vals[] = { json_null(), json_integer(42), json_string(""),
	                   NULL, json_string("abc") };
	char version[64];
	size_t i;

	mt_push(url, "default", "v1", 5000, 9, 1);
	for (i = 0; i < sizeof vals / sizeof vals[0]; i++) {
		char *dir = export_and_set_sha(url, vals[i]);
		int verified = -1;
		ms_status st = load_down(dir, NULL, version, &verified);
		ck_assert_msg(st == MS_EINTEGRITY, "case %zu: status %d verified "
		              "%d", i, (int)st, verified);
		mt_rmtree(dir);
		free(dir);
	}
	free(url);
}
END_TEST

/* A sidecar larger than 1 MiB is refused, even a well-formed one. */
START_TEST(oversized_sidecar_is_refused)
{
	char *url = mt_migrated_db("fb_bigside"), *dir = mt_tmpdir();
	char side[PATH_MAX], msg[512], version[64];
	size_t pad = (size_t)2 << 20;
	char *filler = malloc(pad + 1);
	json_t *sc;
	int verified = -1;

	mt_push(url, "default", "v1", 5000, 10, 1);
	ck_assert_int_eq(export_version(url, NULL, "production", dir, msg,
	                                sizeof msg), MS_OK);
	ck_assert_int_eq(load_down(dir, NULL, version, &verified), MS_OK);
	snprintf(side, sizeof side, "%s/production/model.json", dir);
	sc = json_load_file(side, 0, NULL);
	memset(filler, 'x', pad);
	filler[pad] = '\0';
	json_object_set_new(sc, "padding", json_string(filler));
	ck_assert_int_eq(json_dump_file(sc, side, 0), 0);
	json_decref(sc);
	ck_assert_int_eq(load_down(dir, NULL, version, &verified),
	                 MS_EINTEGRITY);
	free(filler);
	mt_rmtree(dir);
	free(dir);
	free(url);
}
END_TEST

/* Names that are the default model's fallback files cannot have a
 * fallback copy of their own. */
START_TEST(names_colliding_with_fallback_files_are_rejected)
{
	static const char *const bad[] = {
		"model.bin", "model.json",
		"model-0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef.bin",
	};
	char *url = mt_migrated_db("fb_names"), *dir = mt_tmpdir();
	char msg[512], version[64];
	int verified = 0;
	size_t i;

	mt_push(url, "default", "d1", 3000, 11, 1);
	for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		mt_push(url, bad[i], "x1", 2000, 12 + (unsigned)i, 1);
		ck_assert_msg(export_version(url, bad[i], "production", dir, msg,
		                             sizeof msg) == MS_EINVAL,
		              "%s exported: %s", bad[i], msg);
	}
	ck_assert_int_eq(export_version(url, NULL, "production", dir, msg,
	                                sizeof msg), MS_OK);
	ck_assert_int_eq(load_down(dir, NULL, version, &verified), MS_OK);
	ck_assert_str_eq(version, "d1");
	ck_assert_int_ne(load_down(dir, "model.bin", version, &verified), MS_OK);
	mt_rmtree(dir);
	free(dir);
	free(url);
}
END_TEST

/* A seed-era row whose model_size_bytes disagrees with its model_binary
 * (and has no hash): the sidecar describes the bytes actually written,
 * so the loader serves the export, verified (issue 9, defect 9). */
START_TEST(export_of_wrong_size_seed_row_loads)
{
	char *url = mt_migrated_db("fb_seed_size"), *dir = mt_tmpdir(), *r;
	char msg[512], version[64];
	int verified = 0;
	mt_push(url, "default", "seed1", 3000, 21, 1);
	r = mt_sql(url, "UPDATE model_artifacts SET model_size_bytes = 2500,"
	           " sha256 = NULL WHERE model_version = 'seed1'");
	ck_assert_ptr_nonnull(r);
	free(r);
	ck_assert_int_eq(export_version(url, NULL, "production", dir, msg,
	                                sizeof msg), MS_OK);
	ck_assert_int_eq(load_down(dir, NULL, version, &verified), MS_OK);
	ck_assert_str_eq(version, "seed1");
	ck_assert(verified);
	mt_rmtree(dir);
	free(dir);
	free(url);
}
END_TEST

/* The one *.tmp file in @p dir into @p out; false when there is none. */
static bool find_tmp(const char *dir, char out[PATH_MAX])
{
	DIR *d = opendir(dir);
	struct dirent *de;
	bool found = false;
	while (d && (de = readdir(d)) != NULL) {
		size_t l = strlen(de->d_name);
		if (l > 4 && strcmp(de->d_name + l - 4, ".tmp") == 0) {
			snprintf(out, PATH_MAX, "%s/%s", dir, de->d_name);
			found = true;
		}
	}
	if (d)
		closedir(d);
	return found;
}

/* A writer killed by SIGTERM mid-write leaves its temp file; the next
 * write into that directory removes it (its pid is dead), as well as an
 * hour-old temp of a live pid, and keeps a fresh one of a live writer
 * and files that are not ours. */
START_TEST(stale_temp_files_are_swept)
{
	char *dir = mt_tmpdir(), path[PATH_MAX], killed[PATH_MAX];
	char live[PATH_MAX], old[PATH_MAX], foreign[PATH_MAX];
	struct timespec ts[2];
	struct stat sb;
	int status, fd;
	pid_t pid;

	snprintf(path, sizeof path, "%s/out.bin", dir);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		ms_atomic_file *af = NULL;
		ms_err e;
		ms__err_clear(&e);
		if (ms__atomic_open(&af, &e, path, 1) != MS_OK)
			_exit(2);
		(void)ms__atomic_write(af, "partial", 7);
		signal(SIGTERM, SIG_DFL); /* not Check's handler, inherited */
		kill(getpid(), SIGTERM);
		_exit(3);
	}
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGTERM);
	ck_assert(find_tmp(dir, killed));

	snprintf(live, sizeof live, "%s/a.bin.%d-0000abcd.tmp", dir,
	         (int)getpid());
	snprintf(old, sizeof old, "%s/b.bin.%d-0000abcd.tmp", dir, (int)getpid());
	snprintf(foreign, sizeof foreign, "%s/notes.tmp", dir);
	ck_assert_int_ge(fd = open(live, O_CREAT | O_WRONLY, 0644), 0);
	close(fd);
	ck_assert_int_ge(fd = open(old, O_CREAT | O_WRONLY, 0644), 0);
	close(fd);
	ck_assert_int_ge(fd = open(foreign, O_CREAT | O_WRONLY, 0644), 0);
	close(fd);
	clock_gettime(CLOCK_REALTIME, &ts[0]);
	ts[0].tv_sec -= 2 * 3600;
	ts[1] = ts[0];
	ck_assert_int_eq(utimensat(AT_FDCWD, old, ts, 0), 0);

	snprintf(path, sizeof path, "%s/other.bin", dir);
	ck_assert_int_eq(ms_file_write_atomic(NULL, path, "x", 1, 1), MS_OK);
	ck_assert_msg(stat(killed, &sb) != 0, "%s was not swept", killed);
	ck_assert_msg(stat(old, &sb) != 0, "%s was not swept", old);
	ck_assert_int_eq(stat(live, &sb), 0);
	ck_assert_int_eq(stat(foreign, &sb), 0);
	mt_rmtree(dir);
	free(dir);
}
END_TEST

Suite *db_fallback_suite(void)
{
	Suite *s = suite_create("db_fallback");
	TCase *tc = tcase_create("fallback");
	tcase_set_timeout(tc, 300);
	tcase_add_test(tc, export_interrupted_at_each_step_still_verifies);
	tcase_add_test(tc, concurrent_exports_leave_one_verified_pair);
	tcase_add_test(tc, pull_into_fifo_streams_and_keeps_it);
	tcase_add_test(tc, pull_into_null_device_keeps_it);
	tcase_add_test(tc, pull_into_full_device_is_io_error);
	tcase_add_test(tc, pull_into_missing_directory_is_not_not_found);
	tcase_add_test(tc, sidecar_without_sha256_is_refused);
	tcase_add_test(tc, oversized_sidecar_is_refused);
	tcase_add_test(tc, names_colliding_with_fallback_files_are_rejected);
	tcase_add_test(tc, stale_temp_files_are_swept);
	tcase_add_test(tc, export_of_wrong_size_seed_row_loads);
	suite_add_tcase(s, tc);
	return s;
}
