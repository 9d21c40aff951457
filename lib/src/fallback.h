/*
 * fallback.h - the fallback tree on disk: paths, the atomic writer, the
 * sidecar model.json, and the reader the loader serves outages from
 * (ms__ names).  Not installed.
 *
 * fallback.c owns the paths and the atomic writer, sidecar.c the
 * model.json format (written and read), fallback_read.c the reader.
 */
#ifndef MS_FALLBACK_H
#define MS_FALLBACK_H

#include "errbuf.h"
#include "model.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Bytes per read() or write() of a fallback copy. */
#define MS__READ_BLOCK ((size_t)4 << 20)

/* Path of the fallback binary for @p model_name under @p dir:
 * dir/production/model.bin for "default", dir/production/<name>/model.bin
 * otherwise.  Writes into @p out (size n); false if too long. */
bool ms__fallback_path(char *out, size_t n, const char *dir,
                       const char *model_name, const char *file);

/* The directory part of @p path ("." when it has none) into @p out
 * (size n); false if too long. */
bool ms__dir_of(char *out, size_t n, const char *path);

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

/* ---- the sidecar, model.json (sidecar.c) ---- */

/* Path of the sidecar in @p dir_of_model into @p out (size n); false if
 * too long. */
bool ms__sidecar_path(char *out, size_t n, const char *dir_of_model);

/* Write model.json for @p info (with its sha256 and size) beside
 * model.bin in @p dir_of_model, atomically. */
ms_status ms__sidecar_write(ms_err *e, const char *dir_of_model,
                            const ms_artifact_info *info);

/* A sidecar as the reader uses it, with defaults for what it does not
 * record.  The strings live in @c json. */
typedef struct ms_sidecar {
	struct json_t *json;  /* NULL: there is no sidecar */
	const char *name;     /* NULL: not recorded */
	const char *version;  /* "unknown" when not recorded */
	const char *type;     /* "unknown" when not recorded */
	const char *sha256;   /* "" when not recorded */
	long long size;       /* -1 when not recorded */
	char *metrics;        /* compact JSON (jansson's), or NULL */
} ms_sidecar;

/* Read the sidecar at @p path into @p out.  No file is MS_OK with the
 * defaults; a file that is not a JSON object is MS_EINTEGRITY.  Dispose
 * of @p out on every path. */
ms_status ms__sidecar_read(ms_err *e, const char *path, ms_sidecar *out);
void ms__sidecar_dispose(ms_sidecar *sc);

/* true when the sidecar at @p path records @p sha256 and @p version. */
bool ms__sidecar_records(const char *path, const char *sha256,
                         const char *version);

/* ---- the reader (fallback_read.c) ---- */

/* Load the fallback copy of @p name from under @p dir:
 * production[/<name>]/model.bin, then model.bin, each verified against
 * its sidecar when there is one (and holding @p want_version when not
 * NULL).  @p why is the database's error, kept in the message.  No copy
 * is MS_EUNREACHABLE; a copy refused for damage is MS_EINTEGRITY.  On
 * MS_OK *out is a new payload of origin MS_SOURCE_FALLBACK. */
ms_status ms__fallback_load(ms_err *e, const char *dir, const char *name,
                            const char *want_version, const char *why,
                            ms_payload **out);

/* Names with a fallback copy under @p dir, into *out (each string and
 * the array freed with ms__free). */
size_t ms__fallback_names(const char *dir, char ***out);

#endif
