/*
 * internal.h - helpers shared by the library's source files (ms__ names).
 * Not installed.
 */
#ifndef MS_INTERNAL_H
#define MS_INTERNAL_H

#include "modelstore.h"

#include <libpq-fe.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MS_UNUSED(x) (void)(x)

/* ---- allocation (one place, so fault tests can fail the Nth call) ---- */
void *ms__malloc(size_t n);
void *ms__calloc(size_t n, size_t size);
void *ms__realloc(void *p, size_t n);
char *ms__strdup(const char *s);
void ms__free(void *p);

/* Test hook: fail the Nth allocation from now (0 disables).  Only
 * compiled in with MS_FAULT_INJECTION. */
void ms__fault_alloc_after(long n);

/* ---- error buffer carried by each handle ---- */
typedef struct ms_err {
	char msg[1024];
	char sqlstate[6];
} ms_err;

void ms__err_clear(ms_err *e);
ms_status ms__err_set(ms_err *e, ms_status st, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Set from a failed result/connection: classifies the failure. */
ms_status ms__err_pg(ms_err *e, PGconn *conn, const PGresult *res,
                     const char *what);

/* ---- connection ---- */
/* Connect with expand_dbname, connect_timeout default, application name.
 * Returns MS_OK, MS_EUNREACHABLE or MS_ENOMEM; the error names the server
 * (never the password). */
ms_status ms__connect(PGconn **out, ms_err *e, const char *conninfo,
                      int connect_timeout);
/* "host:port/db" for messages. */
void ms__conn_target(PGconn *conn, char *buf, size_t n);
/* true when the failure means the server is gone (connection bad or
 * class 08 / 57P0x). */
bool ms__pg_is_unreachable(PGconn *conn, const PGresult *res);

/* Run a statement with text params, expecting @p expect. */
ms_status ms__exec(PGconn *conn, ms_err *e, PGresult **out,
                   ExecStatusType expect, const char *what, const char *sql,
                   int nparams, const char *const *params);

/* ---- store (for operations kept outside store.c, e.g. report.c) ---- */
/* The connection and error buffer of a usable @p s; the error is
 * cleared.  MS_EINVAL when @p s is NULL, MS_EUNREACHABLE (message set)
 * when it is not connected. */
ms_status ms__store_conn(ms_store *s, PGconn **conn, ms_err **err);

/* ---- schema ---- */
int ms__schema_known_version(void);
ms_status ms__schema_check(PGconn *conn, ms_err *e);
ms_status ms__schema_migrate(PGconn *conn, ms_err *e, int *applied);

/* ---- hashing ---- */
typedef struct ms_sha256 ms_sha256;
ms_sha256 *ms__sha256_new(void);
void ms__sha256_update(ms_sha256 *h, const void *data, size_t n);
void ms__sha256_final(ms_sha256 *h, unsigned char out[32]);
void ms__sha256_free(ms_sha256 *h);
void ms__hex(char *out, const unsigned char *in, size_t n);
/* value of one hex digit, or -1 */
int ms__hexval(char c);
/* parse 64 hex chars into 32 bytes; false when malformed */
bool ms__unhex32(unsigned char out[32], const char *hex);

/* ---- buffers ---- */
ms_status ms__buf_set(ms_buf *b, const char *s, size_t n);

/* ---- JSON (jansson) ---- */
/* true when @p text is a JSON object */
bool ms__json_is_object(const char *text);

/* ---- selectors and argument checks ---- */
bool ms__is_selector_word(const char *s);
/* MS_OK, or MS_EINVAL with one message shape naming the value and the
 * allowed alphabet.  @what: "model name", "artifact name". */
ms_status ms__name_arg(ms_err *e, const char *what, const char *name);
/* A version, "production" or "latest". */
ms_status ms__selector_arg(ms_err *e, const char *selector);

/* ---- time ---- */
uint64_t ms__now_ns(void);      /* CLOCK_MONOTONIC */
uint64_t ms__wall_ms(void);     /* CLOCK_REALTIME in ms */

/* ---- artifact fetch, shared by store and loader ---- */

/* Resolve and stream an artifact's original bytes to @p sink, verifying
 * SHA-256 when recorded.  @p actual_hex (may be NULL, 65 bytes) receives
 * the computed hash.  Used by ms_store_pull and the loader. */
ms_status ms__artifact_fetch(PGconn *conn, ms_err *e, ms_artifact_info *info,
                             const char *model_name, const char *selector,
                             const char *artifact, ms_write_fn sink,
                             void *payload, ms_progress_fn progress,
                             void *progress_payload, char *actual_hex);

/* Resolve (name, selector, artifact) to its metadata; NULLs mean
 * "default", "production", the primary.  MS_ENOTFOUND names what is
 * missing.  Dispose @p info. */
ms_status ms__artifact_resolve(PGconn *conn, ms_err *e, ms_artifact_info *info,
                               const char *model_name, const char *selector,
                               const char *artifact);

/* Fill @p info from a row of the standard artifact SELECT list. */
/* Every column is text, so the list reads the same in text and binary
 * result format (the fetch asks for binary to get its bytea raw). */
#define MS__ARTIFACT_COLUMNS                                              \
	"a.id::text, a.model_name, a.model_version::text, a.artifact, "     \
	"a.run_id::text, a.model_type::text, "                              \
	"coalesce(encode(a.sha256, 'hex'), ''), a.compression, "            \
	"to_char(a.created_at, 'YYYY-MM-DD\"T\"HH24:MI:SS'), "              \
	"coalesce(a.model_size_bytes, -1)::text, "                          \
	"coalesce(a.stored_size_bytes, a.model_size_bytes, -1)::text, "    \
	"a.chunk_count::text, a.is_production::text, "                      \
	"a.accuracy_score::text, a.rmse_score::text, a.r2_score::text, "    \
	"a.metrics::text, a.params::text"
#define MS__ARTIFACT_NCOLUMNS 18
ms_status ms__artifact_info_from_row(ms_artifact_info *info,
                                     const PGresult *res, int row);

/* ---- fallback files (atomic writer, sidecar reader) ---- */

/* Path of the fallback binary for @p model_name under @p dir:
 * dir/production/model.bin for "default", dir/production/<name>/model.bin
 * otherwise.  Writes into @p out (size n); false if too long. */
bool ms__fallback_path(char *out, size_t n, const char *dir,
                       const char *model_name, const char *file);

/* Atomic file writer: temp file beside the target, O_EXCL|O_NOFOLLOW,
 * fsync, rename, fsync directory. */
typedef struct ms_atomic_file ms_atomic_file;
ms_status ms__atomic_open(ms_atomic_file **out, ms_err *e, const char *path,
                          int overwrite);
ms_status ms__atomic_write(void *af, const void *data, size_t n); /* ms_write_fn */
ms_status ms__atomic_commit(ms_atomic_file *af, ms_err *e);
void ms__atomic_abort(ms_atomic_file *af); /* unlink temp, free; NULL ok */

/* mkdir -p, refusing symlinked components. */
ms_status ms__mkdirs(ms_err *e, const char *path);

/* Write model.json for @p info (with its sha256 and size) beside
 * model.bin in @p dir_of_model, atomically. */
ms_status ms__sidecar_write(ms_err *e, const char *dir_of_model,
                            const ms_artifact_info *info);

#endif
