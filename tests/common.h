/* common.h - helpers shared by the Check suites. */
#ifndef MS_TESTS_COMMON_H
#define MS_TESTS_COMMON_H

#include <check.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "modelstore.h"

/* Value of KEY from the harness state file ($MS_TEST_STATE), or NULL. */
const char *mt_env(const char *key);
/* conninfo of a freshly created, empty database called @name (owned; free
 * with free()).  Fails the test when the server is not there. */
char *mt_fresh_db(const char *name);
/* Same, with the modelstore schema migrated. */
char *mt_migrated_db(const char *name);
/* Run `pg_harness.sh CMD STATE` (kill, halt, restart); returns its status. */
int mt_harness(const char *cmd);
/* A new empty directory under /tmp (owned string; free()).  */
char *mt_tmpdir(void);
/* Remove a tree (rm -rf). */
void mt_rmtree(const char *dir);
/* Run argv (argv[0] a path), with stdin from @in (may be NULL), capturing
 * stdout/stderr into malloc'd strings (may be NULL to discard).  Returns
 * the exit status, or -1.  @env: NULL-terminated extra "K=V" entries. */
int mt_run(const char *const argv[], const char *const env[], const char *in,
           size_t in_len, char **out, char **err);
/* Path of the built CLI ($MS_CLI). */
const char *mt_cli(void);
/* Write @n pseudo-random bytes (seeded) to @path; returns 0 on success. */
int mt_write_random(const char *path, uint64_t n, unsigned seed);
/* Fill a buffer with seeded pseudo-random bytes. */
void mt_fill_random(void *buf, size_t n, unsigned seed);
/* Run one SQL statement against @conninfo; returns the first value of the
 * first row as a malloc'd string ("" when no rows), NULL on error. */
char *mt_sql(const char *conninfo, const char *sql);

/* Open a store on @url; fails the test when it cannot. */
ms_store *mt_open_store(const char *url);
/* Push @n seeded bytes as @version of @name (NULL: "default"), model type
 * "test"; production when @prod.  Fails the test on error. */
void mt_push(const char *url, const char *name, const char *version,
             size_t n, unsigned seed, int prod);
/* A conninfo whose port refuses connections (owned; free()). */
char *mt_refused_url(void);
/* Number of spool files (names "pl-*") in @dir; 0 when it is missing. */
size_t mt_spool_files(const char *dir);
/* Copy every regular file of @from whose name starts with @prefix into
 * @to (created when missing); returns how many were copied. */
size_t mt_copy_files(const char *from, const char *to, const char *prefix);
/* CLOCK_MONOTONIC in seconds. */
double mt_now(void);
/* Sleep one polling interval (@ms milliseconds) between two looks at
 * observable state; never a synchronisation by itself. */
void mt_poll_pause(unsigned ms);
/* For a Suite function: true when running as root; otherwise records
 * that @suite is skipped (@why: what it needs root for) and returns
 * false, and the suite adds no test.  main() then exits 77 (CTest's
 * SKIP_RETURN_CODE) when that suite is the one CK_RUN_SUITE selects. */
bool mt_suite_needs_root(const char *suite, const char *why);
/* The reason @suite is skipped, or NULL. */
const char *mt_suite_skipped(const char *suite);

#endif
