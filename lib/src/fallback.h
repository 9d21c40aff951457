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

/* Steps of the fallback writer's commit where a test build can stop it
 * as if the process died (ms__fault_step_at in alloc.h). */
#define MS__FB_STEP_PAYLOAD 101  /* after the payload's rename */
#define MS__FB_STEP_SIDECAR 102  /* the sidecar's write fails */
#define MS__FB_STEP_SWITCHED 103 /* after the sidecar's rename */
#define MS__FB_STEP_LINKED 104   /* after model.bin, before the clean-up */

/* Bytes per read() or write() of a fallback copy. */
#define MS__READ_BLOCK ((size_t)4 << 20)

/* false for a model name that is one of the default model's files in
 * production/ (model.bin, model.json, model-*.bin): such a name cannot
 * have a fallback copy.  NULL (the default model) is fine. */
bool ms__fallback_name_ok(const char *name);

/* Path of @p file in the fallback directory of @p model_name under
 * @p dir: dir/production/<file> for "default",
 * dir/production/<name>/<file> otherwise.  Writes into @p out (size n);
 * false if too long or the name is not ms__fallback_name_ok. */
bool ms__fallback_path(char *out, size_t n, const char *dir,
                       const char *model_name, const char *file);

/* true for a payload file name a sidecar may record: "model.bin" or
 * "model-<64 hex>.bin" (no directory part). */
bool ms__payload_name_ok(const char *file);

/* The directory part of @p path ("." when it has none) into @p out
 * (size n); false if too long. */
bool ms__dir_of(char *out, size_t n, const char *path);

/* Atomic file writer: temp file "<path>.<pid>-<hex>.tmp" beside the
 * target, O_EXCL|O_NOFOLLOW, fsync, rename, fsync directory.  @p mode:
 *   MS__AF_KEEP     an existing target is MS_EEXISTS;
 *   MS__AF_REPLACE  a regular file is replaced; a FIFO or character
 *                   device is written into directly (no temp, no
 *                   rename; a write error such as ENOSPC is MS_EIO
 *                   naming it); any other special file is refused;
 *   MS__AF_TEMP     the target is not looked at (the caller renames the
 *                   temp wherever ms__atomic_retarget says).
 * A missing directory is MS_EIO.  Opening sweeps the directory's stale
 * temp files (ms__sweep_temps). */
#define MS__AF_KEEP 0
#define MS__AF_REPLACE 1
#define MS__AF_TEMP 2
typedef struct ms_atomic_file ms_atomic_file;
ms_status ms__atomic_open(ms_atomic_file **out, ms_err *e, const char *path,
                          int mode);
/* Make commit rename the temp to @p path instead; false if too long or
 * streaming. */
bool ms__atomic_retarget(ms_atomic_file *af, const char *path);
ms_status ms__atomic_write(void *af, const void *data, size_t n); /* ms_write_fn */
ms_status ms__atomic_commit(ms_atomic_file *af, ms_err *e);
void ms__atomic_abort(ms_atomic_file *af); /* unlink temp, free; NULL ok */

/* A temp name for @p path: "<path>.<pid>-<salt as 8 hex>.tmp". */
bool ms__temp_name(char *out, size_t n, const char *path, unsigned salt);

/* Remove from @p dir the temp files of ours whose writer is dead (the pid
 * in the name does not exist) or that were not written to for
 * MS__TEMP_STALE_S seconds.  Best effort. */
#define MS__TEMP_STALE_S 3600
void ms__sweep_temps(const char *dir);

/* fsync the directory that holds @p path. */
ms_status ms__fsync_dir_of(ms_err *e, const char *path);

/* mkdir -p, refusing symlinked components. */
ms_status ms__mkdirs(ms_err *e, const char *path);

/* ---- the writer of a fallback copy (fallback_write.c) ---- */

/* Write a fallback copy into the model directory @p mdir (made when
 * missing): begin, stream the bytes with ms__fallback_write (an
 * ms_write_fn), then commit, which switches payload and sidecar as a pair
 * under the directory's flock (see fallback_write.c), or abort. */
typedef struct ms_fallback_writer ms_fallback_writer;
ms_status ms__fallback_begin(ms_fallback_writer **out, ms_err *e,
                             const char *mdir);
ms_status ms__fallback_write(void *w, const void *data, size_t n);
/* The sidecar records @p info with the hash and size of the bytes
 * written; a recorded sha256 that differs from them is MS_EINTEGRITY.
 * Frees @p w on every path. */
ms_status ms__fallback_commit(ms_fallback_writer *w, ms_err *e,
                              const ms_artifact_info *info);
void ms__fallback_abort(ms_fallback_writer *w); /* NULL ok */

/* true when the copy in @p mdir is @p version with @p sha256 and its
 * payload has @p size bytes. */
bool ms__fallback_holds(const char *mdir, const char *sha256,
                        const char *version, uint64_t size);

/* ---- the sidecar, model.json (sidecar.c) ---- */

/* Path of the sidecar in @p dir_of_model into @p out (size n); false if
 * too long. */
bool ms__sidecar_path(char *out, size_t n, const char *dir_of_model);

/* Write model.json for @p info (with its sha256 and size) in
 * @p dir_of_model, atomically, naming the payload @p file. */
ms_status ms__sidecar_write(ms_err *e, const char *dir_of_model,
                            const ms_artifact_info *info, const char *file);

/* Largest sidecar read; a larger one is MS_EINTEGRITY. */
#define MS__SIDECAR_MAX ((size_t)1 << 20)

/* A sidecar as the reader uses it, with defaults for what it does not
 * record.  The strings live in @c json. */
typedef struct ms_sidecar {
	struct json_t *json;  /* NULL: there is no sidecar */
	const char *name;     /* NULL: not recorded */
	const char *version;  /* "unknown" when not recorded */
	const char *type;     /* "unknown" when not recorded */
	const char *sha256;   /* "" when not recorded */
	const char *file;     /* payload file; NULL: not recorded (model.bin) */
	long long size;       /* -1 when not recorded */
	char *metrics;        /* compact JSON (jansson's), or NULL */
} ms_sidecar;

/* Read the sidecar at @p path into @p out.  No file is MS_OK with the
 * defaults; a file that is not a JSON object, larger than
 * MS__SIDECAR_MAX, or whose "file" is not ms__payload_name_ok is
 * MS_EINTEGRITY.  Dispose of @p out on every path. */
ms_status ms__sidecar_read(ms_err *e, const char *path, ms_sidecar *out);
void ms__sidecar_dispose(ms_sidecar *sc);


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
