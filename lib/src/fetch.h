/*
 * fetch.h - resolving an artifact and streaming its bytes, verified;
 * shared by the store and the loader (ms__ names).  Not installed.
 */
#ifndef MS_FETCH_H
#define MS_FETCH_H

#include "errbuf.h"

#include <libpq-fe.h>

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
	"to_char(a.created_at::timestamptz AT TIME ZONE 'UTC',"              \
	" 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), "              \
	"coalesce(a.model_size_bytes, -1)::text, "                          \
	"coalesce(a.stored_size_bytes, a.model_size_bytes, -1)::text, "    \
	"a.chunk_count::text, a.is_production::text, "                      \
	"a.accuracy_score::text, a.rmse_score::text, a.r2_score::text, "    \
	"a.metrics::text, a.params::text"
#define MS__ARTIFACT_NCOLUMNS 18
ms_status ms__artifact_info_from_row(ms_artifact_info *info,
                                     const PGresult *res, int row);

/* The bytes of an ms_artifact_info of @p version; 0 when unknown. */
size_t ms__artifact_info_size(unsigned int version);

/* Hand @p full (today's layout, filled by the library) to a caller's
 * @p out of a known version: the fields that version has, strings
 * included, keeping @p out's version.  @p full is left empty. */
void ms__artifact_info_give(ms_artifact_info *out, ms_artifact_info *full);

/* Every row of @p res (the standard artifact SELECT list) as a list for
 * ms_store_list().  MS_ENOMEM leaves *out NULL. */
ms_status ms__artifact_list_from_result(ms_artifact_list **out,
                                        const PGresult *res);

#endif
